import type { DeviceAddress } from '../../core/topic.ts'
import { deviceKey, lineKey as lineKeyOf, type PlantModel } from '../../core/plant.ts'
import type { FaultBook } from '../faults.ts'
import { createOffsetFn, localMinuteOfWeek } from '../load.ts'
import { interpolateSlots, loadLoadShape } from '../load-shape.ts'
import { hashString, mixSeed, valueNoise } from '../prng.ts'
import type { MeterProfileId } from '../meters/index.ts'
import type { MachineKind } from '../opcua/machine.ts'
import { lineConsumption, type BenchmarkId, type CarrierRate } from './benchmarks.ts'
import type { Scenario, ScenarioLine, ScenarioShift } from './schema.ts'
import { HOUR_MS } from '../../core/duration.ts'

/** A meter of the scenario with its power model; the same model drives live servers and backfill. */
export interface ScenarioMeter {
  address: DeviceAddress
  /** enterprise/site/line/device */
  key: string
  role: 'main' | 'sub'
  name: string
  profile: MeterProfileId
  /** Rating of what it measures, kW (picks CT ratios). */
  ratedKw: number
  seed: number
  transport: 'tcp' | 'rtu'
  host: string
  port: number
  unitId: number
  serialPath?: string
  baudRate: number
  /** CT ratio, when the scenario sets one. */
  ctRatio?: number
  /** Endpoint group: meters with the same key share one listener or serial line. */
  endpoint: string
  /** Import energy at the start of a run, kWh (a plausible, seeded counter reading). */
  startEnergyKwh: number
  powerKw(t: number): number
  powerFactor(t: number): number
}

/**
 * A line's production counter (a PLC): output follows the productive part of the line's power; the
 * carrier counters it reports (coal, gas, oxygen) follow the output at their rates per unit.
 */
export interface ScenarioProduction {
  address: DeviceAddress
  key: string
  productId: string
  /** 'output_t' for tonnes, 'output_count' for pieces. */
  quantity: 'output_t' | 'output_count'
  /** Target specific electricity consumption of the line, kWh per unit. */
  secKwhPerUnit: number
  /** Fuels and working media the PLC counts beside the output (coal_t, gas_m3, oxygen_m3): counter units per unit of output. */
  carriers?: CarrierRate[]
  /** Output rate at t, units per hour (faults add load, never output). */
  ratePerHour(t: number): number
}

/** An OPC UA machine of a line: runs while the line is scheduled to produce. */
export interface ScenarioMachine {
  address: DeviceAddress
  key: string
  /** enterprise/site/line: machines of one line share one OPC UA server. */
  lineKey: string
  kind: MachineKind
  ratedKw: number
  seed: number
  product: string
  scheduled(t: number): boolean
}

export interface ScenarioModel {
  meters: ScenarioMeter[]
  production: ScenarioProduction[]
  machines: ScenarioMachine[]
}

const WEEK_MIN = 7 * 1440
const RAMP_MIN = 15
const ON_LEVEL = 0.9
const CONTINUOUS_LEVEL = 0.92
// Noise channels, distinct from load.ts's so a line and a meter never share random numbers.
const CH = { lineFast: 101, lineSlow: 102, lineHours: 103, sub: 104, pf: 105, start: 106 } as const

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/** On-intervals of the shifts in minutes of the week (Monday 00:00 = 0); may run past the week's end. */
function shiftIntervals(shifts: readonly ScenarioShift[]): [number, number][] {
  const out: [number, number][] = []
  for (const s of shifts) {
    const start = minutesOf(s.start)
    let end = minutesOf(s.end)
    if (end <= start) end += 1440
    for (const d of s.days) out.push([(d - 1) * 1440 + start, (d - 1) * 1440 + end])
  }
  return out
}

/** 0..1: how far into a shift (with 15-minute ramps at both ends) a minute of the week is. */
function shiftFraction(intervals: readonly [number, number][], minute: number): number {
  let best = 0
  for (const [a, b] of intervals) {
    for (const m of [minute, minute + WEEK_MIN, minute - WEEK_MIN]) {
      if (m <= a || m >= b) continue
      best = Math.max(best, Math.min(1, (m - a) / RAMP_MIN, (b - m) / RAMP_MIN))
    }
  }
  return best
}

/** Noise-free level of a line's load shape (fraction of ratedKw) at a local minute of the week. */
function levelFn(line: ScenarioLine): (minute: number) => number {
  if (line.loadShape === 'steel') {
    const shape = loadLoadShape()
    return (minute) => interpolateSlots(shape.power, minute, shape.slotMinutes)
  }
  if (line.loadShape === 'continuous') return () => CONTINUOUS_LEVEL
  const intervals = shiftIntervals(line.shifts)
  return (minute) => line.idleFraction + (ON_LEVEL - line.idleFraction) * shiftFraction(intervals, minute)
}

/** What the models of one line's devices are built from. */
interface LineContext {
  scenario: Scenario
  faults: FaultBook
  line: ScenarioLine
  /** enterprise/site/line */
  lineKey: string
  /** Noise-free level of the line's load shape at a local minute of the week. */
  level: (minute: number) => number
  /** The line's power at t, kW (with its noise). */
  linePowerKw: (t: number) => number
  offsetAt: (t: number) => number
  addr: (device: string) => DeviceAddress
}

/** P_line(t) = rated × level × (1 + noise), remembered for the last t asked. */
function linePowerFn(line: ScenarioLine, lineSeed: number, level: (minute: number) => number, offsetAt: (t: number) => number): (t: number) => number {
  const slow = line.loadShape === 'continuous' ? 0.03 : 0.01
  let memoT = Number.NaN
  let memoP = 0
  return (t: number): number => {
    if (t === memoT) return memoP
    const minute = localMinuteOfWeek(t, offsetAt(t))
    const noise =
      0.012 * valueNoise(lineSeed, CH.lineFast, t, 5_000) +
      0.008 * valueNoise(lineSeed, CH.lineSlow, t, 60_000) +
      slow * valueNoise(lineSeed, CH.lineHours, t, 3 * HOUR_MS)
    memoT = t
    memoP = Math.max(0, line.ratedKw * level(minute) * (1 + noise))
    return memoP
  }
}

/** A line's meters: the main meter first, then its sub-meters (the sub-meters are built first). */
function lineMeters(ctx: LineContext): ScenarioMeter[] {
  const { scenario, faults, line, lineKey, linePowerKw, addr } = ctx
  const pfFor = (seed: number) => (t: number) => line.powerFactor + 0.01 * valueNoise(seed, CH.pf, t, 120_000)
  const startKwh = (seed: number, ratedKw: number) => Math.round(ratedKw * (2000 + 6000 * (valueNoise(seed, CH.start, 0, 1) * 0.5 + 0.5)))
  const endpointOf = (m: { transport: 'tcp' | 'rtu'; host: string; port: number; serialPath?: string }) =>
    m.transport === 'rtu' ? `rtu:${m.serialPath}` : m.port === 0 ? `line:${lineKey}` : `tcp:${m.host}:${m.port}`

  const subs: ScenarioMeter[] = line.subMeters.map((m, i) => {
    const key = deviceKey(addr(m.id))
    const seed = mixSeed(scenario.seed, hashString(key))
    return {
      address: addr(m.id),
      key,
      role: 'sub',
      name: m.name ?? m.id,
      profile: m.profile,
      ratedKw: line.ratedKw * m.share,
      seed,
      transport: m.transport,
      host: m.host,
      port: m.port,
      unitId: m.unitId ?? i + 2,
      baudRate: m.baudRate,
      ...(m.serialPath ? { serialPath: m.serialPath } : {}),
      ...(m.ctRatio ? { ctRatio: m.ctRatio } : {}),
      endpoint: endpointOf(m),
      startEnergyKwh: startKwh(seed, line.ratedKw * m.share),
      powerKw: (t) => Math.max(0, m.share * linePowerKw(t) * (1 + 0.01 * valueNoise(seed, CH.sub, t, 30_000)) + faults.extraLoadKw(key, t)),
      powerFactor: pfFor(seed),
    }
  })
  const mm = line.mainMeter
  const mainKey = deviceKey(addr(mm.id))
  const mainSeed = mixSeed(scenario.seed, hashString(mainKey))
  const loss = subs.length > 0 ? line.lossFraction : 1
  return [
    {
      address: addr(mm.id),
      key: mainKey,
      role: 'main',
      name: mm.name ?? mm.id,
      profile: mm.profile,
      ratedKw: line.ratedKw,
      seed: mainSeed,
      transport: mm.transport,
      host: mm.host,
      port: mm.port,
      unitId: mm.unitId ?? 1,
      baudRate: mm.baudRate,
      ...(mm.serialPath ? { serialPath: mm.serialPath } : {}),
      ...(mm.ctRatio ? { ctRatio: mm.ctRatio } : {}),
      endpoint: endpointOf(mm),
      startEnergyKwh: startKwh(mainSeed, line.ratedKw),
      powerKw: (t) => Math.max(0, subs.reduce((a, s) => a + s.powerKw(t), 0) + loss * linePowerKw(t) + faults.extraLoadKw(mainKey, t)),
      powerFactor: pfFor(mainSeed),
    },
    ...subs,
  ]
}

/** A line's production counter: output rate = max(0, P_line − idle) / c (see buildScenarioModel). */
function lineProduction(ctx: LineContext): ScenarioProduction {
  const { line, lineKey, level, linePowerKw, addr } = ctx
  const { kwhPerUnit: sec, carriers } = lineConsumption(line.product, lineKey)
  const idleKw = line.idleFraction * line.ratedKw
  // One week of the noise-free shape, every 5 minutes: productive share of the energy.
  let all = 0
  let productive = 0
  for (let minute = 0; minute < WEEK_MIN; minute += 5) {
    const p = line.ratedKw * level(minute)
    all += p
    productive += Math.max(0, p - idleKw)
  }
  const kwhPerUnitProductive = productive > 0 ? (sec * productive) / all : sec
  return {
    address: addr(line.productionDevice),
    key: deviceKey(addr(line.productionDevice)),
    productId: line.product.id,
    quantity: line.product.unit === 't' ? 'output_t' : 'output_count',
    secKwhPerUnit: sec,
    carriers,
    ratePerHour: (t) => Math.max(0, linePowerKw(t) - idleKw) / kwhPerUnitProductive,
  }
}

/** A line's machines: they run while the line is in production (in a shift, or above a third of the steel week's peak). */
function lineMachines(ctx: LineContext): ScenarioMachine[] {
  const { scenario, line, lineKey, level, offsetAt, addr } = ctx
  const threshold = line.loadShape === 'shifts' ? (line.idleFraction + ON_LEVEL) / 2 : line.loadShape === 'steel' ? 0.3 : 0
  return line.machines.map((m) => {
    const key = deviceKey(addr(m.id))
    return {
      address: addr(m.id),
      key,
      lineKey,
      kind: m.kind,
      ratedKw: m.ratedKw,
      seed: mixSeed(scenario.seed, hashString(key)),
      product: line.product.id,
      scheduled: (t) => level(localMinuteOfWeek(t, offsetAt(t))) >= threshold,
    }
  })
}

/**
 * Builds the device models of a scenario. Per line: P_line(t) = rated × level × (1 + noise); each
 * sub-meter measures share × P_line with its own noise, plus the load faults put on it; the main
 * meter measures Σ sub-meters + lossFraction × P_line + the faults put on it (an unmetered load).
 * Output rate = max(0, P_line − idle) / c, with c set so that a week of the noise-free shape gives
 * the line's target kWh per unit: E/output ≈ target, and extra (fault) load worsens it.
 */
export function buildScenarioModel(scenario: Scenario, faults: FaultBook): ScenarioModel {
  const offsetAt = createOffsetFn(scenario.timezone)
  const meters: ScenarioMeter[] = []
  const production: ScenarioProduction[] = []
  const machines: ScenarioMachine[] = []
  for (const e of scenario.enterprises) {
    for (const site of e.sites) {
      for (const line of site.lines) {
        const lineKey = lineKeyOf({ enterprise: e.id, site: site.id, line: line.id })
        const lineSeed = mixSeed(scenario.seed, hashString(lineKey))
        const level = levelFn(line)
        const ctx: LineContext = {
          scenario,
          faults,
          line,
          lineKey,
          level,
          linePowerKw: linePowerFn(line, lineSeed, level, offsetAt),
          offsetAt,
          addr: (device: string): DeviceAddress => ({ enterprise: e.id, site: site.id, line: line.id, device }),
        }
        meters.push(...lineMeters(ctx))
        production.push(lineProduction(ctx))
        machines.push(...lineMachines(ctx))
      }
    }
  }
  return { meters, production, machines }
}

/**
 * Keys (enterprise/site/line/device) of a scenario's devices, line by line: `faultable` — the
 * meters and production counters faults can act on (the default); `counters` — those and the OPC UA
 * machines, every device that holds counters.
 */
export function scenarioDeviceKeys(scenario: Scenario, which: 'faultable' | 'counters' = 'faultable'): Set<string> {
  const out = new Set<string>()
  for (const e of scenario.enterprises)
    for (const s of e.sites)
      for (const l of s.lines) {
        const ids = [l.mainMeter.id, ...l.subMeters.map((m) => m.id), l.productionDevice, ...(which === 'counters' ? l.machines.map((m) => m.id) : [])]
        for (const id of ids) out.add(deviceKey({ enterprise: e.id, site: s.id, line: l.id, device: id }))
      }
  return out
}

/**
 * The plant model (core/plant.ts PlantModelSchema) of a scenario: enterprises → sites → lines with
 * their main meter, sub-meters (key equipment and NC flags), production counter and machines.
 */
/** The analytics reference product (analytics/reference/benchmarks.ts) each scenario indicator grades against. */
const REFERENCE_BENCHMARK: Readonly<Record<BenchmarkId, string>> = {
  'clinker-electricity': 'cement-clinker-electricity',
  'eaf-steel': 'eaf-steel-70t',
  'clinker-energy': 'cement-clinker',
}

export function scenarioPlantModel(scenario: Scenario): PlantModel {
  return {
    timezone: scenario.timezone,
    strict: false,
    enterprises: scenario.enterprises.map((e) => ({
      id: e.id,
      ...(e.name ? { name: e.name } : {}),
      ...(e.industry ? { industry: e.industry } : {}),
      region: e.region,
      attributes: { ...e.attributes },
      sites: e.sites.map((s) => ({
        id: s.id,
        ...(s.name ? { name: s.name } : {}),
        timezone: scenario.timezone,
        ...(s.incomers && s.incomers.length > 0 ? { incomers: [...s.incomers] } : {}),
        lines: s.lines.map((l) => ({
          id: l.id,
          ...(l.name ? { name: l.name } : {}),
          mainMeter: l.mainMeter.id,
          product: {
            id: l.product.id,
            ...(l.product.name ? { name: l.product.name } : {}),
            unit: l.product.unit,
            productionDevice: l.productionDevice,
            ...(l.product.benchmark ? { benchmark: REFERENCE_BENCHMARK[l.product.benchmark] } : {}),
          },
          shifts: l.shifts.map((sh) => ({ name: sh.name, start: sh.start, end: sh.end })),
          devices: [
            { id: l.mainMeter.id, name: l.mainMeter.name ?? l.mainMeter.id, kind: 'meter' as const, keyEquipment: false, ncCapable: false },
            ...l.subMeters.map((m) => ({ id: m.id, name: m.name ?? m.id, kind: 'meter' as const, keyEquipment: m.keyEquipment, ncCapable: m.ncCapable })),
            { id: l.productionDevice, name: `${l.name ?? l.id} production counter`, kind: 'plc' as const, keyEquipment: false, ncCapable: false },
            ...l.machines.map((m) => ({ id: m.id, name: m.name ?? m.id, kind: 'machine' as const, keyEquipment: m.keyEquipment, ncCapable: m.ncCapable })),
          ],
        })),
      })),
    })),
  }
}
