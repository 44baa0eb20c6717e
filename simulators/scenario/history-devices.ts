import { HOUR_MS } from '../../core/duration.ts'
import type { FaultBook, Presenter, PresenterOptions } from '../faults.ts'
import { createMeterModel } from '../load.ts'
import type { ScenarioCounterQuantity, ScenarioCounters, ScenarioCounterValues } from './counters.ts'
import type { ScenarioMeter, ScenarioModel, ScenarioProduction } from './model.ts'

/** A device of a backfill: its model stepped through time, its fault presenter and its sequence number. */
export interface HistoryDevice {
  key: string
  tags: Record<string, string>
  /** Samples written so far (the payload's seq of the last one). */
  seq: number
  /** Steps the model to t (counters integrate from the previous t). */
  update(t: number): void
  /** The written fields at the last update. */
  values(): Record<string, number>
  present: Presenter
  /** Counter fields of the device. */
  counters: readonly ScenarioCounterQuantity[]
  counterValues(): Record<string, number>
}

const METER_COUNTERS = ['energy_import_kwh', 'energy_export_kwh', 'energy_total_kwh'] as const

/**
 * A meter of a backfill, from the given readings (import, else total − export) or the scenario's
 * start energy. Writes `fields`; its counters come from the last update whatever `fields` holds.
 */
export function meterHistoryDevice(
  m: ScenarioMeter,
  given: ScenarioCounterValues | undefined,
  fields: readonly string[],
  present: Presenter,
  timezone: string,
): HistoryDevice {
  const exportKwh = given?.energy_export_kwh ?? 0
  const importKwh = given?.energy_import_kwh ?? (given?.energy_total_kwh !== undefined ? Math.max(0, given.energy_total_kwh - exportKwh) : m.startEnergyKwh)
  const meter = createMeterModel({
    ratedKw: m.ratedKw,
    seed: m.seed,
    timezone,
    startEnergyKwh: importKwh,
    startExportKwh: exportKwh,
    powerKw: m.powerKw,
    powerFactor: m.powerFactor,
  })
  let last: Record<string, number> = {}
  return {
    key: m.key,
    tags: { ...m.address },
    seq: 0,
    update: (t) => {
      last = meter.update(t).values
    },
    values: () => Object.fromEntries(fields.map((f) => [f, last[f] as number])),
    present,
    counters: METER_COUNTERS,
    counterValues: () => ({
      energy_import_kwh: last.energy_import_kwh as number,
      energy_export_kwh: last.energy_export_kwh as number,
      energy_total_kwh: last.energy_total_kwh as number,
    }),
  }
}

/**
 * A line's production counter of a backfill: the output rate integrated in trapezoids from `given`
 * (else 0), and the carrier counters its PLC reports (coal_t, gas_m3, oxygen_m3) advancing by their
 * rate per unit of output, each from its own given reading (else 0).
 */
export function productionHistoryDevice(p: ScenarioProduction, given: ScenarioCounterValues | undefined, present: Presenter): HistoryDevice {
  let total = given?.[p.quantity] ?? 0
  const carriers = (p.carriers ?? []).map((c) => ({ ...c, total: given?.[c.quantity] ?? 0 }))
  let lastT: number | undefined
  let lastRate = 0
  // Parts are counted whole; tonnes to the kilogram, as a weighbridge PLC would; m3 to the litre.
  const shown = (): Record<string, number> => {
    const out: Record<string, number> = { [p.quantity]: p.quantity === 'output_count' ? Math.floor(total) : Math.round(total * 1000) / 1000 }
    for (const c of carriers) out[c.quantity] = Math.round(c.total * 1000) / 1000
    return out
  }
  return {
    key: p.key,
    tags: { ...p.address },
    seq: 0,
    update: (t) => {
      const rate = p.ratePerHour(t)
      if (lastT !== undefined && t > lastT) {
        const made = ((lastRate + rate) / 2) * ((t - lastT) / HOUR_MS)
        total += made
        for (const c of carriers) c.total += made * c.perUnit
      }
      lastT = t
      lastRate = rate
    },
    values: shown,
    present,
    counters: [p.quantity, ...carriers.map((c) => c.quantity)],
    counterValues: shown,
  }
}

export interface HistoryDeviceDeps {
  timezone: string
  /** Meter fields written. */
  fields: readonly string[]
  faults: FaultBook
  initial: ScenarioCounters
  resumed: (key: string) => PresenterOptions
}

/** The backfill's devices: the meters, then the production counters, in the order of the model. */
export function createHistoryDevices(model: Pick<ScenarioModel, 'meters' | 'production'>, deps: HistoryDeviceDeps): HistoryDevice[] {
  return [
    ...model.meters.map((m) =>
      meterHistoryDevice(m, deps.initial.get(m.key), deps.fields, deps.faults.createPresenter(m.key, METER_COUNTERS, deps.resumed(m.key)), deps.timezone),
    ),
    ...model.production.map((p) =>
      productionHistoryDevice(
        p,
        deps.initial.get(p.key),
        deps.faults.createPresenter(p.key, [p.quantity, ...(p.carriers ?? []).map((c) => c.quantity)], deps.resumed(p.key)),
      ),
    ),
  ]
}

/** Each device's counters at t as its registers would stand (resets applied; garbage and stuck not). */
export function finalCounters(devices: readonly HistoryDevice[], t: number): Map<string, Partial<Record<ScenarioCounterQuantity, number>>> {
  const out = new Map<string, Partial<Record<ScenarioCounterQuantity, number>>>()
  for (const d of devices) {
    const shown = d.present.counters(d.counterValues(), t)
    out.set(d.key, Object.fromEntries(d.counters.map((q) => [q, shown[q] as number])))
  }
  return out
}
