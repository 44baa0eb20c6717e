import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ModbusRTU from 'modbus-serial'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeviceAddress } from '../../core/topic.ts'
import { counterReadings, energyReport, readingIncrements, type ReportDeps } from '../../reports/energy.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../../storage/store.ts'
import { backfillScenario } from './backfill.ts'
import { prepareScenarioHistory, type PreparedHistory } from './history.ts'
import { startScenario, type RunningScenario, type ScenarioMeterEndpoint, type ScenarioPlcEndpoint } from './run.ts'
import { loadScenario } from './schema.ts'
import { MINUTE_MS } from '../../core/duration.ts'

// The hubei scenario (all four meter maps, t and pcs counters, a counter_reset fault on the bar
// mill's cooling bed since January): a day of history into the embedded store, then the live run
// read over Modbus TCP as the edge agent would (raw × scale × CT·PT) every simulated minute for an
// hour, then a restart. Reports must see one unbroken counter per device.
type Client = InstanceType<typeof ModbusRTU.default>
const STEP_MS = 900_000
const MINUTE = MINUTE_MS
const T0 = Date.parse('2026-03-02T10:07:30+08:00') // a Monday, mid-quarter: history ends, the live run starts
const FIRST_LIVE = T0 + 30_000 // the agent polls on whole minutes: 10:08:00, 10:09:00, …
const LIVE_MINUTES = 60
const LIVE_END = FIRST_LIVE + (LIVE_MINUTES - 1) * MINUTE // 11:07:00, the newest live sample
const A = Date.parse('2026-03-02T04:00:00+08:00') // report range: 6 h of history + the live hour
const B = Date.parse('2026-03-02T11:00:00+08:00')

const scenario = loadScenario('hubei')
let dir: string
let store: TelemetryStore
let reference: TelemetryStore
let prepared: PreparedHistory
let run: RunningScenario
const clients: Client[] = []
const now = { t: T0 }
let devices: DeviceAddress[]

// What a client decodes from each map's import counter (vendor tables in DOMAIN.md), and the PLC's count.
async function readCounter(c: Client, m: ScenarioMeterEndpoint | ScenarioPlcEndpoint): Promise<number> {
  const u32 = async (a: number) => (await c.readHoldingRegisters(a, 2)).buffer.readUInt32BE(0)
  if ('register' in m) return m.quantity === 'output_t' ? (await c.readHoldingRegisters(0, 2)).buffer.readFloatBE(0) : u32(2)
  switch (m.profile) {
    case 'eastron-sdm630':
      return (await c.readInputRegisters(0x48, 2)).buffer.readFloatBE(0)
    case 'chint-dtsu666':
      return (await c.readHoldingRegisters(0x101e, 2)).buffer.readFloatBE(0)
    case 'acrel-adl400-primary':
      return (await u32(0x84c)) * 0.1
    case 'acrel-adl400-secondary': {
      const ct = (await c.readHoldingRegisters(0x8e, 1)).buffer.readUInt16BE(0)
      const pt = (await c.readHoldingRegisters(0x8d, 1)).buffer.readUInt16BE(0)
      return (await u32(0x0a)) * 0.01 * (1 * ct * pt)
    }
  }
}

const deps = (s: TelemetryStore, at: number): ReportDeps => ({ store: s, model: run.plantModel, now: () => at })

/** Reset, backstep, rollover and gap anomalies of every device's counter over [start, end). */
async function anomalies(s: TelemetryStore, start: number, end: number, at: number): Promise<string[]> {
  const out: string[] = []
  for (const quantity of ['energy_import_kwh', 'output_t', 'output_count']) {
    const readings = await counterReadings(deps(s, at), devices, quantity, { start, end })
    for (const [key, samples] of readings) {
      for (const a of readingIncrements(samples).anomalies) if (a.kind !== 'duplicate') out.push(`${key} ${quantity} ${a.kind} ${a.detail ?? ''}`)
    }
  }
  return out
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-history-'))
  store = createEmbeddedStore({ path: join(dir, 'store.db') })
  reference = createEmbeddedStore({ path: ':memory:' })
  prepared = await prepareScenarioHistory(scenario, store, { days: 1, stepMs: STEP_MS, now: T0 })
  // The same history without a junction: one backfill on to the end of the range.
  await backfillScenario(scenario, reference, { start: Date.parse('2026-03-01T10:00:00+08:00'), stop: B + STEP_MS, stepMs: STEP_MS, integrationMs: MINUTE })

  run = await startScenario(scenario, { clock: () => now.t, updateIntervalMs: 0, initialCounters: prepared.initialCounters })
  devices = [...run.meters, ...run.plcs].map((m) => m.address)
  const endpoints = [...run.meters, ...run.plcs]
  for (const m of endpoints) {
    const c = new ModbusRTU.default()
    await c.connectTCP(m.host as string, { port: m.port as number })
    c.setID(m.unitId)
    c.setTimeout(2000)
    clients.push(c)
  }
  for (let k = 0; k < LIVE_MINUTES; k++) {
    now.t = FIRST_LIVE + k * MINUTE
    run.tick()
    const points: TelemetryPoint[] = []
    for (const [i, m] of endpoints.entries()) {
      const quantity = 'register' in m ? m.quantity : 'energy_import_kwh'
      points.push({ measurement: TELEMETRY_MEASUREMENT, tags: { ...m.address }, fields: { [quantity]: await readCounter(clients[i] as Client, m) }, ts: now.t })
    }
    await store.write(points)
  }
})

afterAll(async () => {
  for (const c of clients.splice(0)) await new Promise<void>((r) => c.close(() => r()))
  await run?.close()
  await store?.close()
  await reference?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('prepareScenarioHistory + startScenario({ initialCounters })', () => {
  it('writes a day of 15-minute history up to now and hands over every counter', () => {
    // 2026-03-01 10:00 … 2026-03-02 10:00 +08:00: 97 steps × 38 devices (31 meters, 7 production counters), no fault offline.
    expect(prepared.previousNewest).toBeUndefined()
    expect(prepared.written).toEqual([{ start: Date.parse('2026-03-01T10:00:00+08:00'), stop: T0, points: 97 * 38 }])
    expect(prepared.at).toBe(T0)
    expect(prepared.initialCounters.size).toBe(38)
    for (const [, v] of prepared.initialCounters) for (const x of Object.values(v)) expect(Number.isFinite(x) && x >= 0).toBe(true)
  })

  it('reports see no reset, backstep or gap across the junction, for every meter and production counter', async () => {
    expect(await anomalies(store, A, B, LIVE_END)).toEqual([])
  })

  it('energy over history + live equals the unbroken backfill, per line (within 0.02 %)', async () => {
    let lines = 0
    for (const e of run.plantModel.enterprises)
      for (const s of e.sites)
        for (const l of s.lines) {
          const scope = { enterprise: e.id, site: s.id, line: l.id }
          const got = await energyReport(deps(store, LIVE_END), scope, { start: A, end: B }, 'total')
          const want = await energyReport(deps(reference, B + STEP_MS), scope, { start: A, end: B }, 'total')
          expect(got.coverage).toBe(1)
          // Same power model, both integrated in 1-minute trapezoids; the live part adds the float32 /
          // 0.1 kWh register resolution and the handover at 10:07:30 (off the 1-minute grid).
          // … so: 0.02 % plus a register step at either end (0.1 kWh on the ADL400 primary map, 0.01 kWh × CT
          // on the secondary one — 12 kWh with the knuckle line's 6000/5 A CTs —, a float32 ulp elsewhere).
          const main = run.meters.find((m) => m.key === `${e.id}/${s.id}/${l.id}/${l.mainMeter}`) as ScenarioMeterEndpoint
          const c = clients[run.meters.indexOf(main)] as Client
          const reading = await readCounter(c, main)
          const step =
            main.profile === 'acrel-adl400-primary'
              ? 0.1
              : main.profile === 'acrel-adl400-secondary'
                ? 0.01 * (await c.readHoldingRegisters(0x8e, 1)).buffer.readUInt16BE(0)
                : 2 ** (Math.floor(Math.log2(reading)) - 23)
          expect(Math.abs(got.energyKwh - want.energyKwh)).toBeLessThanOrEqual(0.0002 * want.energyKwh + 2 * step)
          expect(want.energyKwh).toBeGreaterThan(0)
          lines++
        }
    expect(lines).toBe(7)
  })

  it('energy of a main meter = history part (A → last history sample) + live part (→ B), from the stored readings', async () => {
    const main = run.meters.find((m) => m.key === 'edong-cement/huangshi/clinker-1/main') as ScenarioMeterEndpoint
    const rows = await store.raw({
      measurement: TELEMETRY_MEASUREMENT,
      fields: ['energy_import_kwh'],
      filter: { ...main.address },
      start: A,
      stop: B + MINUTE,
      limit: 1000,
    })
    const at = (ts: number) => (rows.find((r) => r.ts === ts) as { value: number }).value
    const lastHistory = Date.parse('2026-03-02T10:00:00+08:00')
    // Quarter readings: 04:00 (history), 10:00 (last history sample), 11:00 (live).
    const historyPart = at(lastHistory) - at(A)
    const livePart = at(B) - at(lastHistory)
    const report = await energyReport(deps(store, LIVE_END), main.address, { start: A, end: B }, 'total')
    expect(report.energyKwh).toBeCloseTo(historyPart + livePart, 6)
    // 12.5 MW line at ~0.92 load: about 11.5 MWh an hour, so the live hour holds ≥ 10 MWh.
    expect(livePart).toBeGreaterThan(10_000)
  })

  it('without initialCounters a live run would start below the stored history (the backstep this fixes)', async () => {
    const fresh = await startScenario(scenario, { clock: () => LIVE_END, updateIntervalMs: 0 })
    try {
      const stored = await store.latest({
        measurement: TELEMETRY_MEASUREMENT,
        fields: ['energy_import_kwh'],
        filter: { enterprise: scenario.enterprises.map((e) => e.id) },
      })
      const byKey = new Map(stored.map((r) => [`${r.tags.enterprise}/${r.tags.site}/${r.tags.line}/${r.tags.device}`, r.value]))
      const below = fresh.meters.filter((m) => m.snapshot().values.energy_import_kwh < (byKey.get(m.key) as number))
      expect(below.length).toBe(fresh.meters.length)
    } finally {
      await fresh.close()
    }
  })

  it('a restart continues: the second prepare writes only the steps since the newest sample, a third nothing', async () => {
    const written: TelemetryPoint[] = []
    const spy: TelemetryStore = {
      ...store,
      backend: store.backend,
      write: (p: readonly TelemetryPoint[]) => {
        written.push(...p)
        return store.write(p)
      },
    }
    const restart = Date.parse('2026-03-02T11:47:30+08:00')
    const second = await prepareScenarioHistory(scenario, spy, { days: 1, stepMs: STEP_MS, now: restart })
    expect(second.previousNewest).toBe(LIVE_END)
    // Newest 11:07:00 → steps 11:15, 11:30, 11:45 × 38 devices.
    expect(second.points).toBe(3 * 38)
    expect(new Set(written.map((p) => p.ts))).toEqual(new Set([11.25, 11.5, 11.75].map((h) => Date.parse('2026-03-02T00:00:00+08:00') + h * 3_600_000)))
    // Counters continue from the stored ones.
    for (const [key, values] of second.initialCounters) {
      const live = prepared.initialCounters.get(key) as Record<string, number>
      for (const [q, v] of Object.entries(values)) expect(v).toBeGreaterThanOrEqual(live[q] as number)
    }
    expect(await anomalies(store, A, restart, restart)).toEqual([])

    const third = await prepareScenarioHistory(scenario, spy, { days: 1, stepMs: STEP_MS, now: restart })
    expect(third.points).toBe(0)
    expect(third.written).toEqual([])
    expect(written.length).toBe(3 * 38)
    for (const [key, values] of third.initialCounters) {
      for (const [q, v] of Object.entries(values)) {
        const w = (second.initialCounters.get(key) as Record<string, number>)[q] as number
        // Carried 11:45 → 11:47:30 from the stored sample instead of on from the second pass: the same
        // trapezoids, from a sample stored in whole parts / to the kilogram.
        expect(Math.abs(v - w)).toBeLessThanOrEqual(q === 'output_count' ? 1 : q === 'output_t' ? 0.0011 : 1e-6 * Math.max(1, w))
      }
    }
  })
})

describe('after a long pause', () => {
  it('writes at most `days` and carries the counters across the rest (a gap in reports, no backstep)', async () => {
    const s = createEmbeddedStore({ path: ':memory:' })
    try {
      const before = await prepareScenarioHistory(scenario, s, { days: 1, now: T0 - 30 * 86_400_000 })
      const after = await prepareScenarioHistory(scenario, s, { days: 1, now: T0 })
      // 2026-03-01 10:00 … 10:00 +08:00, 97 steps × 38 devices; nothing of the 29 days before.
      expect(after.written).toEqual([{ start: Date.parse('2026-03-01T10:00:00+08:00'), stop: T0, points: 97 * 38 }])
      const key = 'edong-cement/huangshi/clinker-1/main'
      const gained = (after.initialCounters.get(key)?.energy_import_kwh as number) - (before.initialCounters.get(key)?.energy_import_kwh as number)
      // 12.5 MW × 0.92 continuous for 30 days ≈ 8.3 GWh (noise, plus the 1-day history either side).
      expect(gained).toBeGreaterThan(7.5e6)
      expect(gained).toBeLessThan(9.5e6)
    } finally {
      await s.close()
    }
  })
})

describe('bad input', () => {
  it('initialCounters naming an unknown device or holding a negative value: SIM_ERR_CONFIG listing both', async () => {
    const counters = new Map([
      ['nope/x/y/z', { energy_import_kwh: 1 }],
      ['edong-cement/huangshi/clinker-1/main', { energy_import_kwh: -5 }],
    ])
    const err = await startScenario(scenario, { clock: () => T0, updateIntervalMs: 0, initialCounters: counters }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'SIM_ERR_CONFIG' })
    expect((err as Error).message).toContain('no device nope/x/y/z')
    expect((err as Error).message).toContain('/edong-cement/huangshi/clinker-1/main/energy_import_kwh: must be a finite number ≥ 0, got -5')
  })

  it('prepare with a bad step or days: SIM_ERR_BACKFILL', async () => {
    const s = createEmbeddedStore({ path: ':memory:' })
    try {
      await expect(prepareScenarioHistory(scenario, s, { stepMs: 10 })).rejects.toMatchObject({ code: 'SIM_ERR_BACKFILL' })
      await expect(prepareScenarioHistory(scenario, s, { days: 0 })).rejects.toMatchObject({ code: 'SIM_ERR_BACKFILL' })
    } finally {
      await s.close()
    }
  })
})

describe('machines continue their counters', () => {
  it('energy and part count start from the given readings', async () => {
    const { createMachineModel } = await import('../opcua/machine.ts')
    const opts = { kind: 'press' as const, ratedKw: 100, seed: 1, product: 'p', scheduled: () => true }
    const a = createMachineModel(opts)
    const b = createMachineModel({ ...opts, startEnergyKwh: 5000, startPartCount: 700 })
    let ra = a.update(T0)
    let rb = b.update(T0)
    for (let t = T0; t <= T0 + 3_600_000; t += 10_000) {
      ra = a.update(t)
      rb = b.update(t)
    }
    // Same states and power: the continued machine is the fresh one plus its start readings.
    expect(rb.energyKwh).toBeCloseTo(ra.energyKwh + 5000, 9)
    expect(rb.partCount).toBe(ra.partCount + 700)
    expect(ra.partCount).toBeGreaterThan(0)
  })
})
