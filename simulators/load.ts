import { PlantWattError } from '../core/errors.ts'
import type { Quantity } from '../core/quantities.ts'
import { interpolateSlots, loadLoadShape, type LoadShape } from './load-shape.ts'
import { valueNoise } from './prng.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../core/duration.ts'
import { DEFAULT_TIMEZONE } from '../core/windows.ts'

/** Canonical quantities (core/quantities.ts) a three-phase meter simulator reports. */
export const METER_QUANTITIES = [
  'voltage_l1_v',
  'voltage_l2_v',
  'voltage_l3_v',
  'voltage_l12_v',
  'voltage_l23_v',
  'voltage_l31_v',
  'current_l1_a',
  'current_l2_a',
  'current_l3_a',
  'active_power_kw',
  'active_power_l1_kw',
  'active_power_l2_kw',
  'active_power_l3_kw',
  'reactive_power_kvar',
  'apparent_power_kva',
  'power_factor',
  'power_factor_l1',
  'power_factor_l2',
  'power_factor_l3',
  'frequency_hz',
  'energy_import_kwh',
  'energy_export_kwh',
  'energy_total_kwh',
] as const satisfies readonly Quantity[]
export type MeterQuantity = (typeof METER_QUANTITIES)[number]

/** Values meters also serve that have no canonical name (yet). */
export const METER_EXTRA_QUANTITIES = [
  'apparent_power_l1_kva',
  'apparent_power_l2_kva',
  'apparent_power_l3_kva',
  'reactive_power_l1_kvar',
  'reactive_power_l2_kvar',
  'reactive_power_l3_kvar',
  'current_n_a',
  'reactive_energy_import_kvarh',
  'reactive_energy_export_kvarh',
  'reactive_energy_total_kvarh',
] as const
export type MeterExtraQuantity = (typeof METER_EXTRA_QUANTITIES)[number]

export type MeterValues = Readonly<Record<MeterQuantity, number>>
export type MeterExtraValues = Readonly<Record<MeterExtraQuantity, number>>

/** Everything a meter shows at one update tick. */
export interface MeterReading {
  /** Epoch ms of the tick. */
  ts: number
  values: MeterValues
  extra: MeterExtraValues
}

export interface LoadModelOptions {
  /** Active power that shape 1.0 stands for, kW. */
  ratedKw: number
  /** PRNG seed; the same seed gives the same values at the same instant. Default 1. */
  seed?: number
  /** IANA zone whose local time of week indexes the shape. Default Asia/Shanghai. */
  timezone?: string
  /** Default: the shipped steel-plant shape (data/steel-load-shape.json). */
  shape?: LoadShape
  /**
   * Active power at t, kW, replacing rating × shape × noise (a scenario's line or sub-meter model).
   * Must be a pure function of t so that values stay reproducible.
   */
  powerKw?: (t: number) => number
  /** Total power factor at t, replacing the shape's; clamped to 0.7–0.99. */
  powerFactor?: (t: number) => number
}

/** Instantaneous electrical values at time t (no counters). */
export type Instantaneous = Omit<
  Record<MeterQuantity | MeterExtraQuantity, number>,
  | 'energy_import_kwh'
  | 'energy_export_kwh'
  | 'energy_total_kwh'
  | 'reactive_energy_import_kvarh'
  | 'reactive_energy_export_kvarh'
  | 'reactive_energy_total_kvarh'
>

export interface LoadModel {
  readonly ratedKw: number
  readonly seed: number
  readonly timezone: string
  /** Pure: the same (seed, t) always gives the same values. */
  valuesAt(t: number): Instantaneous
}

const NOMINAL_V = 230
const NOMINAL_HZ = 50
const PF_MIN = 0.7
const PF_MAX = 0.99
// Noise channels: one per independent signal so they never share random numbers.
const CH = { powerFast: 1, powerSlow: 2, v1: 3, v2: 4, v3: 5, hz: 6, pf: 7 } as const

/** Offset of `timeZone` from UTC at t, ms. Cached per hour: zones change offset on hour boundaries. */
export function createOffsetFn(timeZone: string): (t: number) => number {
  let fmt: Intl.DateTimeFormat
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
  } catch (cause) {
    throw new PlantWattError('SIM_ERR_CONFIG', `unknown time zone ${JSON.stringify(timeZone)}`, { cause })
  }
  let cachedHour = Number.NaN
  let cachedOffset = 0
  return (t) => {
    const hour = Math.floor(t / HOUR_MS)
    if (hour !== cachedHour) {
      const base = hour * HOUR_MS
      const p: Record<string, number> = {}
      for (const part of fmt.formatToParts(base)) if (part.type !== 'literal') p[part.type] = Number(part.value)
      const local = Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0)
      cachedOffset = local - base
      cachedHour = hour
    }
    return cachedOffset
  }
}

/** Minute of the week (0 = Monday 00:00) of instant t in the zone's local time, fractional. */
export function localMinuteOfWeek(t: number, offsetMs: number): number {
  const local = t + offsetMs
  const day = Math.floor(local / DAY_MS)
  // 1970-01-01 was a Thursday: shift so that Monday = 0.
  const dow = (((day + 3) % 7) + 7) % 7
  return dow * 1440 + (local - day * DAY_MS) / MINUTE_MS
}

export function createLoadModel(options: LoadModelOptions): LoadModel {
  const { ratedKw } = options
  if (!(Number.isFinite(ratedKw) && ratedKw > 0)) throw new PlantWattError('SIM_ERR_CONFIG', `ratedKw must be a positive number, got ${ratedKw}`)
  const seed = options.seed ?? 1
  const timezone = options.timezone ?? DEFAULT_TIMEZONE
  const shape = options.shape ?? loadLoadShape()
  const offsetAt = createOffsetFn(timezone)

  const valuesAt = (t: number): Instantaneous => {
    const minute = localMinuteOfWeek(t, offsetAt(t))
    let pKw: number
    if (options.powerKw) pKw = Math.max(0, options.powerKw(t))
    else {
      const level = interpolateSlots(shape.power, minute, shape.slotMinutes)
      // ±2 % on a 5 s and a 1 min time scale: process jitter on top of the slot mean.
      const noise = 0.012 * valueNoise(seed, CH.powerFast, t, 5_000) + 0.008 * valueNoise(seed, CH.powerSlow, t, 60_000)
      pKw = Math.max(0, ratedKw * level * (1 + noise))
    }
    const pfShape = options.powerFactor ? options.powerFactor(t) : interpolateSlots(shape.powerFactor, minute, shape.slotMinutes)
    const pf = Math.min(PF_MAX, Math.max(PF_MIN, pfShape + 0.005 * valueNoise(seed, CH.pf, t, 30_000)))
    // Grid voltage ±0.8 % per phase and frequency ±0.04 Hz, both wandering slowly.
    const v = [CH.v1, CH.v2, CH.v3].map((ch) => NOMINAL_V * (1 + 0.008 * valueNoise(seed, ch, t, 20_000))) as [number, number, number]
    const hz = NOMINAL_HZ + 0.04 * valueNoise(seed, CH.hz, t, 60_000)
    // Balanced load: each phase carries P/3 at the same PF, so P = Σ U_i·I_i·PF = 3·U·I·PF.
    const pPhaseKw = pKw / 3
    const sPhaseKva = pPhaseKw / pf
    const qPhaseKvar = Math.sqrt(Math.max(0, sPhaseKva * sPhaseKva - pPhaseKw * pPhaseKw))
    const i = v.map((u) => (sPhaseKva * 1000) / u) as [number, number, number]
    const [v1, v2, v3] = v
    const [i1, i2, i3] = i
    // Phasors 120° apart: |Va − Vb| = √(Va² + Vb² + Va·Vb); |Ia + Ib + Ic| likewise for equal angles.
    const ll = (a: number, b: number): number => Math.sqrt(a * a + b * b + a * b)
    const sKva = 3 * sPhaseKva
    return {
      voltage_l1_v: v1,
      voltage_l2_v: v2,
      voltage_l3_v: v3,
      voltage_l12_v: ll(v1, v2),
      voltage_l23_v: ll(v2, v3),
      voltage_l31_v: ll(v3, v1),
      current_l1_a: i1,
      current_l2_a: i2,
      current_l3_a: i3,
      current_n_a: Math.sqrt(Math.max(0, i1 * i1 + i2 * i2 + i3 * i3 - i1 * i2 - i2 * i3 - i3 * i1)),
      active_power_kw: pKw,
      active_power_l1_kw: pPhaseKw,
      active_power_l2_kw: pPhaseKw,
      active_power_l3_kw: pPhaseKw,
      apparent_power_kva: sKva,
      apparent_power_l1_kva: sPhaseKva,
      apparent_power_l2_kva: sPhaseKva,
      apparent_power_l3_kva: sPhaseKva,
      reactive_power_kvar: 3 * qPhaseKvar,
      reactive_power_l1_kvar: qPhaseKvar,
      reactive_power_l2_kvar: qPhaseKvar,
      reactive_power_l3_kvar: qPhaseKvar,
      power_factor: pf,
      power_factor_l1: pf,
      power_factor_l2: pf,
      power_factor_l3: pf,
      frequency_hz: hz,
    }
  }
  return { ratedKw, seed, timezone, valuesAt }
}

export interface MeterModelOptions extends LoadModelOptions {
  /** Import energy counter at the first tick, kWh. Default 0. */
  startEnergyKwh?: number
  /** Export energy counter at the first tick, kWh (the model never exports, so it stays there). Default 0. */
  startExportKwh?: number
}

/**
 * A meter: the load model plus energy counters. `update(t)` is the only thing that changes state;
 * counters integrate power between successive updates by the trapezoid rule, so ΔE equals the
 * integral of the served power samples exactly. A clock that goes backwards adds no energy.
 */
export interface MeterModel {
  readonly load: LoadModel
  update(t: number): MeterReading
}

export function createMeterModel(options: MeterModelOptions): MeterModel {
  const load = createLoadModel(options)
  const start = options.startEnergyKwh ?? 0
  if (!(Number.isFinite(start) && start >= 0)) throw new PlantWattError('SIM_ERR_CONFIG', `startEnergyKwh must be ≥ 0, got ${start}`)
  const exportKwh = options.startExportKwh ?? 0
  if (!(Number.isFinite(exportKwh) && exportKwh >= 0)) throw new PlantWattError('SIM_ERR_CONFIG', `startExportKwh must be ≥ 0, got ${exportKwh}`)
  let importKwh = start
  let importKvarh = 0
  let last: { ts: number; pKw: number; qKvar: number } | undefined
  return {
    load,
    update(t: number): MeterReading {
      const now = load.valuesAt(t)
      if (last && t > last.ts) {
        const hours = (t - last.ts) / HOUR_MS
        importKwh += ((last.pKw + now.active_power_kw) / 2) * hours
        importKvarh += ((last.qKvar + now.reactive_power_kvar) / 2) * hours
      }
      if (!last || t >= last.ts) last = { ts: t, pKw: now.active_power_kw, qKvar: now.reactive_power_kvar }
      const {
        apparent_power_l1_kva,
        apparent_power_l2_kva,
        apparent_power_l3_kva,
        reactive_power_l1_kvar,
        reactive_power_l2_kvar,
        reactive_power_l3_kvar,
        current_n_a,
        ...canonical
      } = now
      return {
        ts: t,
        values: { ...canonical, energy_import_kwh: importKwh, energy_export_kwh: exportKwh, energy_total_kwh: importKwh + exportKwh },
        extra: {
          apparent_power_l1_kva,
          apparent_power_l2_kva,
          apparent_power_l3_kva,
          reactive_power_l1_kvar,
          reactive_power_l2_kvar,
          reactive_power_l3_kvar,
          current_n_a,
          reactive_energy_import_kvarh: importKvarh,
          reactive_energy_export_kvarh: 0,
          reactive_energy_total_kvarh: importKvarh,
        },
      }
    },
  }
}
