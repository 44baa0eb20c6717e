import net from 'node:net'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Aedes } from 'aedes'
import type { TelemetryPoint, TelemetryStore } from '../storage/store.ts'

/** Polls `fn` until it returns something other than undefined. */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export function tempDir(prefix = 'pw-ingest-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) }
}

export interface ControlledStore extends TelemetryStore {
  /** Every write attempt, in order, with the points it carried. */
  readonly attempts: TelemetryPoint[][]
  /** Makes write() fail this many more times. */
  failNext(count: number): void
  /** Makes write() hang until release(). */
  hold(): void
  release(): void
}

/** Wraps a real store: can fail the next N writes or hold writes until released. */
export function controlledStore(inner: TelemetryStore): ControlledStore {
  const attempts: TelemetryPoint[][] = []
  let failures = 0
  let gate: { promise: Promise<void>; open(): void } | undefined
  return {
    backend: inner.backend,
    attempts,
    failNext(count) {
      failures = count
    },
    hold() {
      let open!: () => void
      gate = { promise: new Promise<void>((resolve) => (open = resolve)), open }
    },
    release() {
      gate?.open()
      gate = undefined
    },
    async write(points) {
      attempts.push(structuredClone([...points]))
      if (gate) await gate.promise
      if (failures > 0) {
        failures--
        throw new Error('store unavailable (test)')
      }
      await inner.write(points)
    },
    aggregate: (q) => inner.aggregate(q),
    raw: (q) => inner.raw(q),
    latest: (q) => inner.latest(q),
    ping: () => inner.ping(),
    close: () => inner.close(),
  }
}

export interface BareBroker {
  url: string
  aedes: Aedes
  close(): Promise<void>
}

/** Aedes without PlantWatt's publish policy: a broker that validates nothing, like a stock Mosquitto. */
export async function startBareBroker(): Promise<BareBroker> {
  const aedes = await Aedes.createBroker({ maxClientsIdLength: 256 })
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    aedes.handle(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  return {
    url: `mqtt://127.0.0.1:${port}`,
    aedes,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
    },
  }
}
