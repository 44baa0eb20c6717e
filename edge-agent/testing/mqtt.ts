import net from 'node:net'
import { once } from 'node:events'
import { Aedes } from 'aedes'
import { connectAsync, type MqttClient } from 'mqtt'
import { decodePayload, type Payload } from '../../core/payload.ts'

/** An in-process Aedes broker on a free (or given) port, for the edge agent's tests. */
export interface TestBroker {
  url: string
  port: number
  /** Closes one client's connection from the broker side (no DISCONNECT: its will fires). */
  drop(clientId: string): void
  /** Stops accepting connections; open ones stay. */
  stopAccepting(): void
  close(): Promise<void>
}

export async function startTestBroker(port = 0, admit: (clientId: string) => boolean = () => true): Promise<TestBroker> {
  const aedes = await Aedes.createBroker({ authenticate: (client, _u, _p, done) => done(null, admit(client.id)) })
  const server = net.createServer(aedes.handle)
  const sockets = new Set<net.Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  const actual = (server.address() as net.AddressInfo).port
  const clients = new Map<string, { close(): void }>()
  aedes.on('client', (c) => clients.set(c.id, c))
  const closed = new Promise<void>((resolve) => server.on('close', () => resolve()))
  let accepting = true
  const stopAccepting = () => {
    if (accepting) server.close()
    accepting = false
  }
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    drop: (clientId) => clients.get(clientId)?.close(),
    stopAccepting,
    async close() {
      stopAccepting()
      for (const s of sockets) s.destroy()
      await closed
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
    },
  }
}

export interface ReceivedData {
  topic: string
  payload: Payload
}

/** Subscribes to `pw/v1/+/+/+/+/data` with QoS 1 and decodes (validates) every message. */
export async function subscribeData(url: string): Promise<{ client: MqttClient; messages: ReceivedData[] }> {
  const client = await connectAsync(url, { clientId: `test-sub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 })
  const messages: ReceivedData[] = []
  client.on('message', (topic, payload) => messages.push({ topic, payload: decodePayload(payload) }))
  await client.subscribeAsync('pw/v1/+/+/+/+/data', { qos: 1 })
  return { client, messages }
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
