import net from 'node:net'
import { once } from 'node:events'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import type { EdgeDeviceConfig } from './config.ts'
import type { Driver, ReadResult } from './driver.ts'

/**
 * The one suite every edge driver runs (like storage/store.contract.ts for the stores): against a
 * real peer — the project's simulators, over TCP, a serial pty pair or OPC UA — it checks what the
 * poller relies on: `create` validates without I/O, `connect`, reads with the values the peer
 * serves, a timeout within the configured bound, a link lost mid-read and the reconnect after it,
 * bad values as bad quality (never a wrong good value), and an idempotent `close` that frees the
 * link. Push drivers (OPC UA subscribe) are checked through `subscribe` instead of `read`.
 */

/** The far end of a driver: a simulator, with the faults the suite injects. */
export interface DriverPeer {
  /** The canonical values a good read must return now, by quantity (exactly these quantities). */
  expected(): Record<string, number>
  /** Moves the served values on (a simulator tick), so a stale value cannot pass for a fresh one. */
  change(): void
  /** false: requests are received and never answered (the link stays up); true: answered again. */
  setResponding(on: boolean): void
  /** Serves values that must not be taken as good (NaN registers, a node with a bad status); returns the quantities concerned. */
  spoil(): string[]
  /** Undoes `spoil`. */
  heal(): void
  /** The link goes away: open connections dropped (or the serial line gone), nothing accepted. */
  drop(): Promise<void>
  /** The peer is back at the same address. */
  restore(): Promise<void>
  /** Links a client holds now: open TCP connections, or 1 while the serial port is held. */
  clientLinks(): Promise<number>
  /** Connections accepted plus requests received so far (any I/O by a driver shows here). */
  activity(): number
  close(): Promise<void>
}

export interface DriverUnderTest {
  /** poll: values come from `read`; push: from `subscribe` (read only reports errors). */
  mode: 'poll' | 'push'
  /** The driver's factory (`create(config)`): validates, no I/O. */
  create(config: EdgeDeviceConfig): Driver
  /** A valid config for the peer with this timeout, ms, and no retries. */
  config(timeoutMs: number): EdgeDeviceConfig
  /** Configs that point at the peer but that `create` must refuse with EDGE_ERR_DRIVER_CONFIG. */
  badConfigs: Record<string, EdgeDeviceConfig>
  /**
   * The longest an unanswered read may take for a timeout, ms: the driver's documented bound
   * (e.g. requests per poll × timeout for Modbus TCP). At least `timeoutMs`.
   */
  readTimeoutBoundMs(timeoutMs: number): number
  /**
   * The timeout the timeout check configures, ms (default 300). Connects use it too: a protocol with
   * several round trips to connect (OPC UA: channel, session) needs more on a loaded machine.
   */
  shortTimeoutMs?: number
  /** How far a decoded value may be from the served one (float32 registers round). */
  tolerance(expected: number): number
  peer: DriverPeer
  cleanup(): Promise<void>
}

/** The timeout of every check but the timeout check itself, ms: generous, so load cannot fail them. */
const TIMEOUT_MS = 3000
const SHORT_TIMEOUT_MS = 300
/** Scheduling slack on a loaded 2-core machine shared by several test runs. */
const SLACK_MS = 1500

async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** The rejection of `p` (a coded PlantWattError is required), and how long it took. */
async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string; ms: number }> {
  const t0 = performance.now()
  try {
    await p
  } catch (err) {
    const ms = performance.now() - t0
    if (!isPlantWattError(err)) throw new Error(`expected a coded error, got ${String(err)}`, { cause: err })
    expect(err.code).toMatch(/^EDGE_ERR_[A-Z_]+$/)
    return { code: err.code, message: err.message, ms }
  }
  throw new Error('expected a rejection, got a result')
}

function expectValues(sut: DriverUnderTest, got: Record<string, number>, expected: Record<string, number>): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort())
  const off: string[] = []
  for (const [q, v] of Object.entries(expected)) {
    const a = got[q] as number
    if (!(Math.abs(a - v) <= sut.tolerance(v))) off.push(`${q}: served ${v}, read ${a}`)
  }
  expect(off).toEqual([])
}

export function describeDriverContract(name: string, factory: () => Promise<DriverUnderTest>): void {
  describe(`Driver contract: ${name}`, () => {
    let sut: DriverUnderTest
    let peer: DriverPeer
    const drivers: Driver[] = []
    const create = (timeoutMs = TIMEOUT_MS): Driver => {
      const d = sut.create(sut.config(timeoutMs))
      drivers.push(d)
      return d
    }

    /** Push drivers: the results pushed from now on. */
    function collect(driver: Driver): ReadResult[] {
      const got: ReadResult[] = []
      expect(typeof driver.subscribe).toBe('function')
      driver.subscribe!((r) => got.push(r))
      return got
    }
    /** The newest value of every quantity pushed (bad ones absent), and each quantity's last quality. */
    const merged = (results: ReadResult[]) => {
      const values: Record<string, number> = {}
      const quality: Record<string, string> = {}
      for (const r of results) {
        for (const [q, v] of Object.entries(r.values)) {
          values[q] = v
          quality[q] = r.quality[q] ?? 'good'
        }
        for (const [q, v] of Object.entries(r.quality)) {
          quality[q] = v
          if (v === 'bad') delete values[q]
        }
      }
      return { values, quality }
    }
    const matches = (got: Record<string, number>, expected: Record<string, number>) =>
      Object.keys(expected).length === Object.keys(got).length &&
      Object.entries(expected).every(([q, v]) => got[q] !== undefined && Math.abs((got[q] as number) - v) <= sut.tolerance(v))

    /** The values of the driver now: a poll, or what pushes bring once they match the peer. */
    async function current(driver: Driver, pushed?: ReadResult[]): Promise<Record<string, number>> {
      if (sut.mode === 'poll') {
        const r = await driver.read(AbortSignal.timeout(10_000))
        expect(r.errors).toEqual([])
        expect(r.quality).toEqual({})
        return r.values
      }
      const expected = sut.peer.expected()
      await waitUntil('pushed values equal to the served ones', () => matches(merged(pushed ?? []).values, expected), 8000).catch(() => {})
      return merged(pushed ?? []).values
    }

    beforeEach(async () => {
      sut = await factory()
      peer = sut.peer
    })

    afterEach(async () => {
      for (const d of drivers.splice(0)) await d.close().catch(() => {})
      await sut.cleanup()
    })

    it('create validates the config: a bad one throws EDGE_ERR_DRIVER_CONFIG, and neither does any I/O', async () => {
      const before = peer.activity()
      expect(Object.keys(sut.badConfigs).length).toBeGreaterThan(0)
      for (const [why, config] of Object.entries(sut.badConfigs)) {
        let thrown: unknown
        try {
          sut.create(config)
        } catch (err) {
          thrown = err
        }
        expect(isPlantWattError(thrown, 'EDGE_ERR_DRIVER_CONFIG'), `${why}: ${String(thrown)}`).toBe(true)
      }
      const good = create()
      expect(good.endpoint.length).toBeGreaterThan(0)
      await new Promise((r) => setTimeout(r, 100))
      expect(peer.activity()).toBe(before)
      expect(await peer.clientLinks()).toBe(0)
      // and reading before connecting is a coded error, not I/O
      expect((await rejection(good.read(AbortSignal.timeout(2000)))).code).toBe('EDGE_ERR_NOT_CONNECTED')
      expect(peer.activity()).toBe(before)
    })

    it('connects and reads the canonical quantities with the values the peer serves, and follows them', async () => {
      const driver = create()
      const pushed = sut.mode === 'push' ? collect(driver) : undefined
      await driver.connect(AbortSignal.timeout(10_000))
      expect(await peer.clientLinks()).toBeGreaterThanOrEqual(1)
      const before = Date.now()
      expectValues(sut, await current(driver, pushed), peer.expected())
      const first = peer.expected()
      peer.change()
      const next = peer.expected()
      expect(next).not.toEqual(first) // the peer really moved on
      expectValues(sut, await current(driver, pushed), next)
      if (sut.mode === 'poll') {
        const r = await driver.read(AbortSignal.timeout(10_000))
        expect(r.ts).toBeGreaterThanOrEqual(before)
        expect(r.ts).toBeLessThanOrEqual(Date.now())
      } else {
        // A poll of a push driver carries no values, only the points it could not monitor.
        const r = await driver.read(AbortSignal.timeout(10_000))
        expect(r.values).toEqual({})
        expect(r.errors).toEqual([])
      }
    })

    it('bad values become bad quality with a coded error, never a good number; the next good value is good again', async () => {
      const driver = create()
      const pushed = sut.mode === 'push' ? collect(driver) : undefined
      await driver.connect(AbortSignal.timeout(10_000))
      await current(driver, pushed)
      const spoiled = peer.spoil()
      expect(spoiled.length).toBeGreaterThan(0)
      let result: { values: Record<string, number>; quality: Record<string, string>; errors: ReadResult['errors'] }
      if (sut.mode === 'poll') {
        result = await driver.read(AbortSignal.timeout(10_000))
      } else {
        const results = pushed ?? []
        await waitUntil('bad quality pushed for the spoiled quantities', () => spoiled.every((q) => merged(results).quality[q] === 'bad'), 8000)
        const m = merged(results)
        result = { values: m.values, quality: m.quality, errors: results.flatMap((r) => r.errors) }
        // no pushed result ever carried a number for a spoiled quantity after it went bad
        for (const r of results) for (const q of spoiled) if (r.quality[q] === 'bad') expect(r.values[q], q).toBeUndefined()
      }
      for (const q of spoiled) {
        expect(result.quality[q], q).toBe('bad')
        expect(result.values[q], q).toBeUndefined()
        expect(result.errors.find((e) => e.point === q)?.code, q).toMatch(/^EDGE_ERR_[A-Z_]+$/)
      }
      // the other quantities keep their good values
      const others = Object.fromEntries(Object.entries(peer.expected()).filter(([q]) => !spoiled.includes(q)))
      for (const [q, v] of Object.entries(others)) {
        expect(result.quality[q] ?? 'good', q).toBe('good')
        expect(Math.abs((result.values[q] as number) - v), q).toBeLessThanOrEqual(sut.tolerance(v))
      }
      peer.heal()
      peer.change()
      if (pushed) pushed.length = 0
      expectValues(sut, await current(driver, pushed), peer.expected())
    })

    it('an unanswered read fails with EDGE_ERR_TIMEOUT within its bound, and reads again once the peer answers', async () => {
      const timeoutMs = sut.shortTimeoutMs ?? SHORT_TIMEOUT_MS
      const driver = create(timeoutMs)
      const pushed = sut.mode === 'push' ? collect(driver) : undefined
      await driver.connect(AbortSignal.timeout(10_000))
      await current(driver, pushed)
      peer.setResponding(false)
      const bound = sut.readTimeoutBoundMs(timeoutMs)
      expect(bound).toBeGreaterThanOrEqual(timeoutMs)
      if (sut.mode === 'poll') {
        const failed = await rejection(driver.read(AbortSignal.timeout(bound + 10_000)))
        expect(failed.code).toBe('EDGE_ERR_TIMEOUT')
        expect(failed.ms).toBeGreaterThanOrEqual(timeoutMs - 20)
        expect(failed.ms).toBeLessThanOrEqual(bound + SLACK_MS)
      } else {
        // A push driver learns of a silent peer through its keep-alive: the next poll says so.
        const t0 = performance.now()
        let failed: { code: string; ms: number } | undefined
        await waitUntil(
          'a poll reporting the silent peer',
          async () => {
            try {
              await driver.read(AbortSignal.timeout(bound + 10_000))
              return false
            } catch (err) {
              if (!isPlantWattError(err)) throw err
              failed = { code: err.code, ms: performance.now() - t0 }
              return true
            }
          },
          bound + SLACK_MS,
        )
        expect(failed?.code).toMatch(/^EDGE_ERR_(TIMEOUT|CONNECTION)$/)
      }
      peer.setResponding(true)
      peer.change()
      if (pushed) pushed.length = 0
      await driver.connect(AbortSignal.timeout(10_000))
      expectValues(sut, await current(driver, pushed), peer.expected())
    })

    it('the link lost during a read is a coded error; connect fails while the peer is away and works once it is back', async () => {
      const driver = create()
      const pushed = sut.mode === 'push' ? collect(driver) : undefined
      await driver.connect(AbortSignal.timeout(10_000))
      await current(driver, pushed)
      peer.setResponding(false) // the request is on its way and unanswered when the link goes
      const t0 = performance.now()
      const reading = driver.read(AbortSignal.timeout(20_000)).then(
        (r) => ({ ok: true as const, r }),
        (err: unknown) => ({ ok: false as const, err }),
      )
      await new Promise((r) => setTimeout(r, 100))
      await peer.drop()
      let outcome = await reading
      if (sut.mode === 'push' && outcome.ok) {
        // A push driver's poll does no request: the loss shows on the next poll once noticed.
        await waitUntil(
          'a poll reporting the lost link',
          async () => {
            outcome = await driver.read(AbortSignal.timeout(5000)).then(
              (r) => ({ ok: true as const, r }),
              (err: unknown) => ({ ok: false as const, err }),
            )
            return !outcome.ok
          },
          10_000,
        )
      }
      expect(outcome.ok).toBe(false)
      const err = (outcome as { err: unknown }).err
      expect(isPlantWattError(err), String(err)).toBe(true)
      expect((err as { code: string }).code).toMatch(/^EDGE_ERR_(CONNECTION|TIMEOUT|NOT_CONNECTED)$/)
      if (sut.mode === 'poll') expect(performance.now() - t0).toBeLessThanOrEqual(sut.readTimeoutBoundMs(TIMEOUT_MS) + SLACK_MS)
      // the peer is away: connecting fails with a coded error
      expect((await rejection(driver.connect(AbortSignal.timeout(10_000)))).code).toMatch(/^EDGE_ERR_(CONNECT|CONNECTION|TIMEOUT)$/)
      await peer.restore()
      peer.setResponding(true)
      peer.change()
      if (pushed) pushed.length = 0
      await driver.connect(AbortSignal.timeout(10_000))
      expectValues(sut, await current(driver, pushed), peer.expected())
    })

    it('close is idempotent, frees the link, and the driver can connect again afterwards', async () => {
      const driver = create()
      const pushed = sut.mode === 'push' ? collect(driver) : undefined
      await driver.close() // before any connect
      await driver.connect(AbortSignal.timeout(10_000))
      await current(driver, pushed)
      expect(await peer.clientLinks()).toBeGreaterThanOrEqual(1)
      await driver.close()
      await driver.close()
      await waitUntil('the peer sees the link freed', async () => (await peer.clientLinks()) === 0, 3000)
      expect((await rejection(driver.read(AbortSignal.timeout(2000)))).code).toBe('EDGE_ERR_NOT_CONNECTED')
      await Promise.all([driver.close(), driver.close()])
      peer.change()
      if (pushed) pushed.length = 0
      await driver.connect(AbortSignal.timeout(10_000))
      expectValues(sut, await current(driver, pushed), peer.expected())
      await driver.close()
      await waitUntil('the peer sees the link freed again', async () => (await peer.clientLinks()) === 0, 3000)
    })
  })
}

/**
 * A TCP proxy in front of a peer, for the faults a simulator cannot make itself: `setResponding(false)`
 * keeps the connection up but stops passing the peer's replies (the peer's own timeout never
 * fires); `drop()` closes every connection and stops listening on the port; `restore()` listens on
 * the same port again.
 */
export interface FaultProxy {
  readonly port: number
  readonly accepted: number
  readonly open: number
  setResponding(on: boolean): void
  drop(): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let responding = true
  let accepted = 0
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>()
  const onConnection = (client: net.Socket) => {
    accepted++
    const upstream = net.connect(target.port, target.host)
    const pair = { client, upstream }
    pairs.add(pair)
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    client.on('data', (chunk: Buffer) => upstream.write(chunk))
    // Replies held back while not responding are dropped, as a peer that never answered.
    upstream.on('data', (chunk: Buffer) => {
      if (responding) client.write(chunk)
    })
  }
  let server = net.createServer(onConnection)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  let listening = true
  const stop = async () => {
    for (const p of pairs) {
      p.client.destroy()
      p.upstream.destroy()
    }
    pairs.clear()
    if (listening) {
      listening = false
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  return {
    port,
    get accepted() {
      return accepted
    },
    get open() {
      return pairs.size
    },
    setResponding(on) {
      responding = on
    },
    drop: stop,
    async restore() {
      if (listening) return
      server = net.createServer(onConnection)
      server.listen(port, '127.0.0.1')
      await once(server, 'listening')
      listening = true
    },
    close: stop,
  }
}
