import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ModbusRTU from 'modbus-serial'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import type { TelemetryPoint, TelemetryStore } from '../storage/store.ts'
import { backfillScenario } from './scenario/backfill.ts'
import { startScenario, type RunningScenario, type ScenarioMeterEndpoint } from './scenario/run.ts'
import type { FaultInput, Scenario } from './scenario/schema.ts'
import { kilnLine, siteScenario } from './testing/lines.ts'
import { HOUR_MS } from '../core/duration.ts'

// Each fault is checked against a healthy twin: the same scenario, seed and clock without the
// fault. What differs is the fault's effect and nothing else.
type Client = InstanceType<typeof ModbusRTU.default>
const T0 = Date.UTC(2026, 0, 5, 2, 0) // Monday 10:00 Shanghai
const H = HOUR_MS

function lineScenario(faults: FaultInput[] = []): Scenario {
  return siteScenario('line', 5, [kilnLine()], faults)
}

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-faults-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const runs: RunningScenario[] = []
const clients: Client[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await new Promise<void>((r) => c.close(() => r()))
  await Promise.all(runs.splice(0).map((r) => r.close()))
})

interface Twin {
  now: { t: number }
  faulty: RunningScenario
  healthy: RunningScenario
  truthFile: string
  /** Moves the shared clock to t, ticking every minute on the way (counters integrate). */
  advanceTo(t: number): void
  meter(run: RunningScenario, device: string): ScenarioMeterEndpoint
}

async function twin(faults: FaultInput[] = [], start = T0): Promise<Twin> {
  const now = { t: start }
  const truthFile = join(dir, `truth-${Math.random().toString(36).slice(2)}.jsonl`)
  const faulty = await startScenario(lineScenario(faults), { clock: () => now.t, updateIntervalMs: 0, groundTruthFile: truthFile })
  const healthy = await startScenario(lineScenario(), { clock: () => now.t, updateIntervalMs: 0 })
  runs.push(faulty, healthy)
  return {
    now,
    faulty,
    healthy,
    truthFile,
    advanceTo(t) {
      while (now.t < t) {
        now.t = Math.min(t, now.t + 60_000)
        faulty.tick()
        healthy.tick()
      }
    },
    meter: (run, device) => run.meters.find((m) => m.address.device === device)!,
  }
}

async function connect(m: ScenarioMeterEndpoint, timeoutMs = 1000): Promise<Client> {
  const c = new ModbusRTU.default()
  await c.connectTCP(m.host!, { port: m.port! })
  c.setID(m.unitId)
  c.setTimeout(timeoutMs)
  clients.push(c)
  return c
}
// Words decoded from the vendor tables (DOMAIN.md), not from the profiles.
const sdmW = async (m: ScenarioMeterEndpoint) => (await (await connect(m)).readInputRegisters(0x34, 2)).buffer.readFloatBE(0)
const sdmKwh = async (m: ScenarioMeterEndpoint) => (await (await connect(m)).readInputRegisters(0x48, 2)).buffer.readFloatBE(0)
const sdmV1 = async (m: ScenarioMeterEndpoint) => (await (await connect(m)).readInputRegisters(0x00, 2)).buffer.readFloatBE(0)
const adlKw = async (m: ScenarioMeterEndpoint) => (await (await connect(m)).readHoldingRegisters(0x81a, 2)).buffer.readFloatBE(0)
const adlTou = async (m: ScenarioMeterEndpoint) => {
  const b = (await (await connect(m)).readHoldingRegisters(0x84e, 8)).buffer
  return [0, 1, 2, 3].map((k) => b.readUInt32BE(k * 4) * 0.1)
}

describe('load faults change the physics', () => {
  it('step: +300 kW on a sub-meter shows on it and on the main meter, only inside its window', async () => {
    const tw = await twin([{ device: 'ent/site/kiln/fan', kind: 'step', start: T0 + H, end: T0 + 2 * H, deltaKw: 300 }])
    tw.advanceTo(T0 + 1.5 * H)
    const d = (await sdmW(tw.meter(tw.faulty, 'fan'))) - (await sdmW(tw.meter(tw.healthy, 'fan')))
    expect(d).toBeCloseTo(300_000, -1) // float32 of ~1 MW: ±0.06 W
    expect((await adlKw(tw.meter(tw.faulty, 'main'))) - (await adlKw(tw.meter(tw.healthy, 'main')))).toBeCloseTo(300, 1)
    // Energy: 30 min × 300 kW = 150 kWh more on the fan's counter, plus half of the one-minute tick
    // interval in which the step appeared (trapezoid between the last healthy and first faulty tick).
    expect((await sdmKwh(tw.meter(tw.faulty, 'fan'))) - (await sdmKwh(tw.meter(tw.healthy, 'fan')))).toBeCloseTo(150 + 300 / 120, 1)
    tw.advanceTo(T0 + 2.5 * H)
    expect((await sdmW(tw.meter(tw.faulty, 'fan'))) - (await sdmW(tw.meter(tw.healthy, 'fan')))).toBeCloseTo(0, 0)
  })

  it('drift grows linearly; a spike is brief; standby waste only at night', async () => {
    const tw = await twin([
      { device: 'ent/site/kiln/fan', kind: 'drift', start: T0, kwPerDay: 240 },
      { device: 'ent/site/kiln/main', kind: 'spike', start: T0 + 3 * H, end: T0 + 3 * H + 120_000, deltaKw: 1500 },
      { device: 'ent/site/kiln/mill', kind: 'standby', start: T0, kw: 55, nightStart: '22:00', nightEnd: '06:00' },
    ])
    tw.advanceTo(T0 + 3 * H + 60_000) // 13:01
    const fanDelta = (await sdmW(tw.meter(tw.faulty, 'fan'))) - (await sdmW(tw.meter(tw.healthy, 'fan')))
    expect(fanDelta / 1000).toBeCloseTo((240 * (3 * H + 60_000)) / (24 * H), 1)
    const mainDelta = (await adlKw(tw.meter(tw.faulty, 'main'))) - (await adlKw(tw.meter(tw.healthy, 'main')))
    expect(mainDelta).toBeCloseTo(1500 + fanDelta / 1000, 1) // spike on the main = unmetered load
    const millAt = async () => {
      const dtsu = async (run: RunningScenario) =>
        ((await (await connect(tw.meter(run, 'mill'))).readHoldingRegisters(0x2012, 2)).buffer.readFloatBE(0) * 0.1) / 1000
      return (await dtsu(tw.faulty)) - (await dtsu(tw.healthy))
    }
    expect(await millAt()).toBeCloseTo(0, 2) // 13:01: day
    tw.advanceTo(T0 + 3 * H + 600_000) // spike over
    expect((await adlKw(tw.meter(tw.faulty, 'main'))) - (await adlKw(tw.meter(tw.healthy, 'main')))).toBeLessThan(100)
    tw.advanceTo(T0 + 13 * H) // 23:00
    expect(await millAt()).toBeCloseTo(55, 2)
  })
})

describe('measurement faults change what is served', () => {
  it('offline: the unit stops answering (others on the port go on), then answers again', async () => {
    const tw = await twin([{ device: 'ent/site/kiln/fan', kind: 'offline', start: T0 + H, end: T0 + 2 * H }])
    tw.advanceTo(T0 + 1.5 * H)
    const c = await connect(tw.meter(tw.faulty, 'fan'), 300)
    const err = await c.readInputRegisters(0x34, 2).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.message ?? '').toMatch(/timed out/i)
    expect(await adlKw(tw.meter(tw.faulty, 'main'))).toBeGreaterThan(1000)
    tw.advanceTo(T0 + 2 * H)
    expect(await sdmW(tw.meter(tw.faulty, 'fan'))).toBe(await sdmW(tw.meter(tw.healthy, 'fan')))
  })

  it('garbage: implausible values over many decades; stuck: values frozen while the truth moves', async () => {
    const tw = await twin([
      { device: 'ent/site/kiln/fan', kind: 'garbage', start: T0 + H, end: T0 + 2 * H },
      { device: 'ent/site/kiln/main', kind: 'stuck', start: T0 + H },
    ])
    tw.advanceTo(T0 + H)
    const frozen = await adlKw(tw.meter(tw.faulty, 'main'))
    const v = await sdmV1(tw.meter(tw.faulty, 'fan'))
    expect(Math.abs(v)).toBeGreaterThanOrEqual(1000) // no 230 V phase voltage
    expect(v).not.toBe(await sdmV1(tw.meter(tw.healthy, 'fan')))
    tw.advanceTo(T0 + 1.5 * H)
    expect(await adlKw(tw.meter(tw.faulty, 'main'))).toBe(frozen)
    expect(await adlKw(tw.meter(tw.healthy, 'main'))).not.toBe(frozen)
    tw.advanceTo(T0 + 2 * H)
    expect(await sdmV1(tw.meter(tw.faulty, 'fan'))).toBe(await sdmV1(tw.meter(tw.healthy, 'fan')))
  })

  it('counter reset: the import counter restarts from 0 at the fault and counts on', async () => {
    const tw = await twin([{ device: 'ent/site/kiln/fan', kind: 'counter_reset', start: T0 + H }])
    tw.advanceTo(T0 + H)
    const atReset = await sdmKwh(tw.meter(tw.healthy, 'fan'))
    expect(atReset).toBeGreaterThan(1000) // a meter that has run for a while
    expect(await sdmKwh(tw.meter(tw.faulty, 'fan'))).toBe(0)
    tw.advanceTo(T0 + 2 * H)
    const healthy = await sdmKwh(tw.meter(tw.healthy, 'fan'))
    const reset = await sdmKwh(tw.meter(tw.faulty, 'fan'))
    expect(reset).toBeCloseTo(healthy - atReset, 0)
    expect(reset).toBeGreaterThan(600) // ~0.4 × 1840 kW for an hour
  })

  it('clock skew: the meter books energy into the TOU period its own clock shows', async () => {
    // 02:00–04:00 Shanghai is valley; a clock 5 h fast books it at 07:00–09:00, flat.
    const start = Date.UTC(2026, 0, 5, 18, 0)
    const tw = await twin([{ device: 'ent/site/kiln/main', kind: 'clock_skew', start, skewMs: 5 * H }], start)
    const before = [await adlTou(tw.meter(tw.faulty, 'main')), await adlTou(tw.meter(tw.healthy, 'main'))]
    tw.advanceTo(start + 2 * H)
    const [skewed, healthy] = [await adlTou(tw.meter(tw.faulty, 'main')), await adlTou(tw.meter(tw.healthy, 'main'))]
    const inc = (a: number[], b: number[]) => a.map((x, k) => x - b[k]!)
    const dSkew = inc(skewed, before[0]!)
    const dHealthy = inc(healthy, before[1]!)
    expect(dHealthy[3]).toBeGreaterThan(3000) // ~1.8 MW × 2 h in the valley
    expect(dHealthy[2]).toBeCloseTo(0, 0)
    expect(dSkew[3]).toBeCloseTo(0, 0)
    expect(dSkew[2]).toBeCloseTo(dHealthy[3]!, 0)
  })
})

describe('ground truth and injection', () => {
  it('writes each fault, from the file and injected, as a JSONL line with device, kind, start, end, parameters', async () => {
    const tw = await twin([{ device: 'ent/site/kiln/fan', kind: 'step', start: '2026-01-05T11:00:00+08:00', end: '2026-01-05T12:00:00+08:00', deltaKw: 300 }])
    const rec = tw.faulty.injectFault({ device: 'ent/site/kiln/mill', kind: 'stuck', start: T0 + 2 * H })
    expect(rec.id).toBe(2)
    const lines = readFileSync(tw.truthFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toEqual([
      {
        id: 1,
        device: 'ent/site/kiln/fan',
        kind: 'step',
        start: T0 + H,
        end: T0 + 2 * H,
        parameters: { deltaKw: 300 },
        startIso: '2026-01-05T03:00:00.000Z',
        endIso: '2026-01-05T04:00:00.000Z',
      },
      { id: 2, device: 'ent/site/kiln/mill', kind: 'stuck', start: T0 + 2 * H, end: null, parameters: {}, startIso: '2026-01-05T04:00:00.000Z', endIso: null },
    ])
    let err: unknown
    try {
      tw.faulty.injectFault({ device: 'ent/site/kiln/nope', kind: 'drift', start: T0 })
    } catch (e) {
      err = e
    }
    expect(isPlantWattError(err, 'SIM_ERR_FAULT')).toBe(true)
    expect((err as Error).message).toMatch(/\/device: no device.*\/kwPerDay: required for drift/)
    expect(tw.faulty.faults().length).toBe(2)
  })

  it('backfill: an offline device writes no samples, a skewed clock shifts its timestamps', async () => {
    const points: TelemetryPoint[] = []
    const store: TelemetryStore = {
      backend: 'memory',
      write: async (p) => void points.push(...p),
      aggregate: async () => [],
      latest: async () => [],
      raw: async () => [],
      ping: async () => undefined,
      close: async () => undefined,
    }
    const s = lineScenario([
      { device: 'ent/site/kiln/fan', kind: 'offline', start: T0 + H, end: T0 + 2 * H },
      { device: 'ent/site/kiln/dcs', kind: 'clock_skew', start: T0, skewMs: 90_000 },
    ])
    const r = await backfillScenario(s, store, { start: T0, stop: T0 + 3 * H, stepMs: 600_000 })
    const of = (d: string) => points.filter((p) => p.tags.device === d)
    expect(of('main').length).toBe(18)
    expect(of('fan').length).toBe(12)
    expect(of('fan').some((p) => p.ts >= T0 + H && p.ts < T0 + 2 * H)).toBe(false)
    expect(of('fan').map((p) => p.fields.seq)).toEqual([...Array(12).keys()].map((k) => k + 1))
    expect(of('dcs').map((p) => p.ts)).toEqual([...Array(18).keys()].map((k) => T0 + k * 600_000 + 90_000))
    expect(r.samples['ent/site/kiln/fan']).toBe(12)
  })
})
