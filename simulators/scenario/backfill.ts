import { PlantWattError } from '../../core/errors.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../../storage/store.ts'
import { FaultBook } from '../faults.ts'
import { createMeterModel, METER_QUANTITIES, type MeterModel } from '../load.ts'
import { buildScenarioModel, scenarioDeviceKeys } from './model.ts'
import type { Scenario } from './schema.ts'

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
}

export interface BackfillResult {
  points: number
  batches: number
  devices: number
  /** Samples per device key. */
  samples: Record<string, number>
  elapsedMs: number
}

const CORE_FIELDS = ['active_power_kw', 'reactive_power_kvar', 'power_factor', 'frequency_hz', 'energy_import_kwh'] as const
const COUNTERS = ['energy_import_kwh', 'energy_export_kwh', 'energy_total_kwh']

/**
 * Writes the history of a scenario straight into a store, as the edge agent would have published
 * it: measurement 'telemetry', tags enterprise/site/line/device, canonical fields + `seq`. The same
 * device models as a live run (model.ts) and the scenario's faults (offline = no samples, clock skew
 * = shifted timestamps, …); deterministic with the seed, so two backfills write identical points.
 */
export async function backfillScenario(scenario: Scenario, store: TelemetryStore, options: BackfillOptions): Promise<BackfillResult> {
  const started = Date.now()
  const stepMs = options.stepMs ?? 60_000
  const batchSize = Math.min(5000, options.batchSize ?? 5000)
  const { start, stop } = options
  if (!(Number.isFinite(start) && Number.isFinite(stop) && stop > start)) throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: stop (${stop}) must be after start (${start})`)
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
    present: (v: Readonly<Record<string, number>>, t: number) => Record<string, number>
  }
  const devices: Dev[] = []
  for (const m of model.meters) {
    const meter: MeterModel = createMeterModel({ ratedKw: m.ratedKw, seed: m.seed, timezone: scenario.timezone, startEnergyKwh: m.startEnergyKwh, powerKw: m.powerKw, powerFactor: m.powerFactor })
    let last: Record<string, number> = {}
    devices.push({
      key: m.key, tags: { ...m.address }, seq: 0,
      update: (t) => {
        const r = meter.update(t)
        last = r.values
      },
      values: () => Object.fromEntries(fields.map((f) => [f, last[f] as number])),
      present: faults.createPresenter(m.key, COUNTERS),
    })
  }
  for (const p of model.production) {
    let total = 0
    let lastT: number | undefined
    let lastRate = 0
    devices.push({
      key: p.key, tags: { ...p.address }, seq: 0,
      update: (t) => {
        const rate = p.ratePerHour(t)
        if (lastT !== undefined && t > lastT) total += ((lastRate + rate) / 2) * ((t - lastT) / 3_600_000)
        lastT = t
        lastRate = rate
      },
      // Parts are counted whole; tonnes to the kilogram, as a weighbridge PLC would.
      values: () => ({ [p.quantity]: p.quantity === 'output_count' ? Math.floor(total) : Math.round(total * 1000) / 1000 }),
      present: faults.createPresenter(p.key, [p.quantity]),
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

  for (let t = start; t < stop; t += stepMs) {
    for (let k = 0; k < subSteps; k++) {
      const ts = t + k * dt
      for (const d of devices) d.update(ts)
      if (k !== 0) continue
      for (const d of devices) {
        if (!faults.online(d.key, t)) continue
        const shown = d.present(d.values(), t)
        d.seq++
        samples[d.key]!++
        batch.push({ measurement: TELEMETRY_MEASUREMENT, tags: d.tags, fields: { ...shown, seq: d.seq }, ts: t + faults.clockOffsetMs(d.key, t) })
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
  return { points, batches, devices: devices.length, samples, elapsedMs: Date.now() - started }
}
