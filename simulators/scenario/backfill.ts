import { PlantWattError } from '../../core/errors.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../../storage/store.ts'
import { FaultBook, type Presenter } from '../faults.ts'
import { createMeterModel, METER_QUANTITIES, type MeterModel } from '../load.ts'
import { buildScenarioModel, scenarioDeviceKeys } from './model.ts'
import type { Scenario } from './schema.ts'
import { checkScenarioCounters, type ScenarioCounterQuantity, type ScenarioCounters } from './counters.ts'
import { HOUR_MS } from '../../core/duration.ts'

export interface BackfillOptions {
  /** First sample, epoch ms (inclusive). */
  start: number
  /** End, epoch ms (exclusive). */
  stop: number
  /** Sample period written to the store, ms. Default 60 000. */
  stepMs?: number
  /** Period at which counters integrate power, ms; rounded so it divides stepMs. Default 15 000. */
  integrationMs?: number
  /** Points per write. Default and maximum 5000. */
  batchSize?: number
  /** Meter fields written: every canonical quantity a meter has ('all', default) or P/Q/PF/Hz/E ('core'). */
  fields?: 'all' | 'core'
  /** Ground-truth JSONL of the scenario's faults. */
  groundTruthFile?: string
  /** Called after each batch is written, with points so far. */
  onProgress?: (written: number) => void
  /**
   * Counter readings to continue from, per device key (meters: energy_import_kwh, energy_export_kwh;
   * production counters: output_t / output_count), as read at `countersAt`: the history goes on
   * from a store's newest samples instead of the scenario's start values. Counter resets begun
   * before `countersAt` are taken as already in the readings.
   */
  initialCounters?: ScenarioCounters
  /** When `initialCounters` were read, epoch ms, ≤ start: counters integrate from there. Default start. */
  countersAt?: number
}

export interface BackfillResult {
  points: number
  batches: number
  devices: number
  /** Samples per device key. */
  samples: Record<string, number>
  /**
   * Each meter's and production counter's counters at `stop` (integrated up to it, resets applied,
   * garbage and stuck faults not): what a live run continues from (ScenarioRunOptions.initialCounters).
   */
  finalCounters: Map<string, Partial<Record<ScenarioCounterQuantity, number>>>
  elapsedMs: number
}

const CORE_FIELDS = ['active_power_kw', 'reactive_power_kvar', 'power_factor', 'frequency_hz', 'energy_import_kwh'] as const
const COUNTERS = ['energy_import_kwh', 'energy_export_kwh', 'energy_total_kwh'] as const

/**
 * Writes the history of a scenario straight into a store, as the edge agent would have published
 * it: measurement 'telemetry', tags enterprise/site/line/device, canonical fields + `seq`. The same
 * device models as a live run (model.ts) and the scenario's faults (offline = no samples, clock skew
 * = shifted timestamps, …); deterministic with the seed, so two backfills write identical points.
 */
export async function backfillScenario(scenario: Scenario, store: TelemetryStore, options: BackfillOptions): Promise<BackfillResult> {
  const { start, stop } = options
  if (!(Number.isFinite(start) && Number.isFinite(stop) && stop > start)) throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: stop (${stop}) must be after start (${start})`)
  return simulateScenarioHistory(scenario, store, options)
}

/**
 * backfillScenario without its range check: with stop ≤ start it writes nothing and only carries
 * the counters from `countersAt` to `stop` (finalCounters). For prepareScenarioHistory.
 */
export async function simulateScenarioHistory(scenario: Scenario, store: TelemetryStore, options: BackfillOptions): Promise<BackfillResult> {
  const started = Date.now()
  const stepMs = options.stepMs ?? 60_000
  const batchSize = Math.min(5000, options.batchSize ?? 5000)
  const { start, stop } = options
  if (!(Number.isFinite(start) && Number.isFinite(stop))) throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: start (${start}) and stop (${stop}) must be epoch ms`)
  const initial: ScenarioCounters = options.initialCounters ?? new Map()
  if (options.initialCounters) checkScenarioCounters(scenario, initial, 'backfill: initialCounters')
  const countersAt = options.countersAt ?? start
  if (!(Number.isFinite(countersAt) && countersAt <= Math.max(start, stop))) throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: countersAt (${countersAt}) must be at or before start (${start})`)
  const resumed = (key: string) => (initial.has(key) ? { resumedAt: countersAt } : {})
  if (!(Number.isInteger(stepMs) && stepMs > 0)) throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: stepMs must be a positive integer, got ${stepMs}`)
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: batchSize must be a positive integer`)
  const subSteps = Math.max(1, Math.ceil(stepMs / (options.integrationMs ?? 15_000)))
  const dt = stepMs / subSteps

  const faults = new FaultBook({ timezone: scenario.timezone, seed: scenario.seed, devices: scenarioDeviceKeys(scenario), ...(options.groundTruthFile ? { groundTruthFile: options.groundTruthFile } : {}) })
  for (const f of scenario.faults) faults.inject(f)
  const model = buildScenarioModel(scenario, faults)
  const fields = options.fields === 'core' ? CORE_FIELDS : METER_QUANTITIES

  interface Dev {
    key: string
    tags: Record<string, string>
    seq: number
    update(t: number): void
    values(): Record<string, number>
    present: Presenter
    /** Counter fields of the device. */
    counters: readonly ScenarioCounterQuantity[]
    counterValues(): Record<string, number>
  }
  const devices: Dev[] = []
  for (const m of model.meters) {
    const given = initial.get(m.key)
    const exportKwh = given?.energy_export_kwh ?? 0
    const importKwh = given?.energy_import_kwh ?? (given?.energy_total_kwh !== undefined ? Math.max(0, given.energy_total_kwh - exportKwh) : m.startEnergyKwh)
    const meter: MeterModel = createMeterModel({ ratedKw: m.ratedKw, seed: m.seed, timezone: scenario.timezone, startEnergyKwh: importKwh, startExportKwh: exportKwh, powerKw: m.powerKw, powerFactor: m.powerFactor })
    let last: Record<string, number> = {}
    devices.push({
      key: m.key, tags: { ...m.address }, seq: 0,
      update: (t) => {
        const r = meter.update(t)
        last = r.values
      },
      values: () => Object.fromEntries(fields.map((f) => [f, last[f] as number])),
      present: faults.createPresenter(m.key, COUNTERS, resumed(m.key)),
      counters: COUNTERS,
      // Counters come from `last` whatever `fields` holds.
      counterValues: () => ({ energy_import_kwh: last.energy_import_kwh as number, energy_export_kwh: last.energy_export_kwh as number, energy_total_kwh: last.energy_total_kwh as number }),
    })
  }
  for (const p of model.production) {
    let total = initial.get(p.key)?.[p.quantity] ?? 0
    let lastT: number | undefined
    let lastRate = 0
    devices.push({
      key: p.key, tags: { ...p.address }, seq: 0,
      update: (t) => {
        const rate = p.ratePerHour(t)
        if (lastT !== undefined && t > lastT) total += ((lastRate + rate) / 2) * ((t - lastT) / HOUR_MS)
        lastT = t
        lastRate = rate
      },
      // Parts are counted whole; tonnes to the kilogram, as a weighbridge PLC would.
      values: () => ({ [p.quantity]: p.quantity === 'output_count' ? Math.floor(total) : Math.round(total * 1000) / 1000 }),
      present: faults.createPresenter(p.key, [p.quantity], resumed(p.key)),
      counters: [p.quantity],
      counterValues: () => ({ [p.quantity]: p.quantity === 'output_count' ? Math.floor(total) : Math.round(total * 1000) / 1000 }),
    })
  }

  const samples: Record<string, number> = Object.fromEntries(devices.map((d) => [d.key, 0]))
  let batch: TelemetryPoint[] = []
  let points = 0
  let batches = 0
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    try {
      await store.write(batch)
    } catch (cause) {
      throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: writing ${batch.length} points at ${new Date(batch[0]!.ts).toISOString()} failed: ${(cause as Error).message}`, { cause })
    }
    points += batch.length
    batches++
    batch = []
    options.onProgress?.(points)
  }

  // Counters continued from readings integrate from the instant they were read.
  let lastUpdate = Number.NEGATIVE_INFINITY
  const advanceTo = (to: number): void => {
    // Trapezoids of dt from the last update (readings off the sample grid, the end); across a long
    // gap at most 5000 of them, so carrying counters over months stays fast.
    const h = Math.max(dt, (to - lastUpdate) / 5000)
    if (lastUpdate !== Number.NEGATIVE_INFINITY) for (let ts = lastUpdate + h; ts < to; ts += h) for (const d of devices) d.update(ts)
    for (const d of devices) d.update(to)
    lastUpdate = to
  }
  if (options.initialCounters && countersAt < start) advanceTo(countersAt)
  for (let t = start; t < stop; t += stepMs) {
    for (let k = 0; k < subSteps; k++) {
      const ts = t + k * dt
      if (ts > stop) break
      if (lastUpdate < ts - dt) advanceTo(ts)
      else {
        for (const d of devices) d.update(ts)
        lastUpdate = ts
      }
      if (k !== 0) continue
      for (const d of devices) {
        if (!faults.online(d.key, t)) continue
        // The presenter always sees every counter (a reset offsets all of them alike); the written fields are picked after.
        const values = d.values()
        const shown = d.present({ ...values, ...d.counterValues() }, t)
        const written: Record<string, number> = {}
        for (const k of Object.keys(values)) written[k] = shown[k] as number
        d.seq++
        samples[d.key]!++
        batch.push({ measurement: TELEMETRY_MEASUREMENT, tags: d.tags, fields: { ...written, seq: d.seq }, ts: t + faults.clockOffsetMs(d.key, t) })
      }
      if (batch.length >= batchSize) {
        const rest = batch.splice(batchSize)
        await flush()
        batch = rest
      }
    }
  }
  while (batch.length > batchSize) {
    const rest = batch.splice(batchSize)
    await flush()
    batch = rest
  }
  await flush()
  const finalCounters = new Map<string, Partial<Record<ScenarioCounterQuantity, number>>>()
  if (stop > lastUpdate) advanceTo(stop)
  for (const d of devices) {
    const shown = d.present.counters(d.counterValues(), stop)
    finalCounters.set(d.key, Object.fromEntries(d.counters.map((q) => [q, shown[q] as number])))
  }
  return { points, batches, devices: devices.length, samples, finalCounters, elapsedMs: Date.now() - started }
}
