import net from 'node:net'
import { once } from 'node:events'
import { Aedes } from 'aedes'
import { silentLogger } from '../core/logger.ts'
import { hashPassword, startBroker } from '../broker/index.ts'
import { startMosquitto } from '../test/mosquitto.ts'
import { processCpuSeconds, runLoad } from './load.ts'

export interface FanInResult {
  broker: 'plantwatt' | 'aedes' | 'mosquitto'
  messagesPerS: number
  /** Broker CPU time per message delivered, microseconds. */
  cpuUsPerMessage: number
  messages: number
  seconds: number
}

const PUBLISHERS = 50

/** 50 publishers → 1 subscriber, QoS 1, each publisher keeping `window` messages in flight. */
export async function fanIn(broker: FanInResult['broker'], messagesPerPublisher: number, window = 100): Promise<FanInResult> {
  const total = PUBLISHERS * messagesPerPublisher
  const finish = (cpuSeconds: number, r: { received: number; seconds: number }): FanInResult => {
    if (r.received !== total) throw new Error(`fan-in on ${broker}: ${r.received} of ${total} messages arrived`)
    return {
      broker,
      messagesPerS: Math.round(total / r.seconds),
      cpuUsPerMessage: Number(((cpuSeconds * 1e6) / total).toFixed(1)),
      messages: total,
      seconds: Number(r.seconds.toFixed(2)),
    }
  }
  if (broker === 'mosquitto') {
    const m = await startMosquitto()
    try {
      let before = 0
      const r = await runLoad(
        { mode: 'fanin', url: m.url, publishers: PUBLISHERS, messages: messagesPerPublisher, window },
        () => (before = processCpuSeconds(m.pid)),
      )
      return finish(processCpuSeconds(m.pid) - before, r)
    } finally {
      await m.stop()
    }
  }
  if (broker === 'aedes') {
    const aedes = await Aedes.createBroker()
    const server = net.createServer(aedes.handle)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`
    try {
      let before = process.cpuUsage()
      const r = await runLoad({ mode: 'fanin', url, publishers: PUBLISHERS, messages: messagesPerPublisher, window }, () => (before = process.cpuUsage()))
      const used = process.cpuUsage(before)
      return finish((used.user + used.system) / 1e6, r)
    } finally {
      server.close()
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
    }
  }
  // PlantWatt: every publisher a gateway user of its own enterprise (scrypt auth, topic ACL), the
  // subscriber an ingest user; payloads validated, the publish rate limit at its default.
  const credentials = Array.from({ length: PUBLISHERS }, (_, k) => ({ username: `gw-${k}`, password: `pw-${k}` }))
  const hash = await hashPassword('bench-password')
  const users = [
    ...(await Promise.all(
      credentials.map(async (c, k) => ({
        username: c.username,
        passwordHash: await hashPassword(c.password),
        role: 'gateway' as const,
        enterprise: `e${k}`,
        site: 's1',
      })),
    )),
    { username: 'ingest', passwordHash: hash, role: 'ingest' as const },
  ]
  const b = await startBroker({ port: 0, users }, { logger: silentLogger() })
  try {
    let before = process.cpuUsage()
    const r = await runLoad(
      {
        mode: 'fanin',
        url: b.url,
        publishers: PUBLISHERS,
        messages: messagesPerPublisher,
        window,
        credentials,
        subscriber: { username: 'ingest', password: 'bench-password' },
      },
      () => (before = process.cpuUsage()),
    )
    const used = process.cpuUsage(before)
    return finish((used.user + used.system) / 1e6, r)
  } finally {
    await b.close()
  }
}
