import { PlantWattError } from '../../core/errors.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { METER_QUANTITIES } from '../load.ts'
import { historySettings } from './history-settings.ts'
import type { ScenarioCounterQuantity, ScenarioCounters } from './counters.ts'
import { createHistoryDevices, finalCounters } from './history-devices.ts'
import { HistorySampler } from './history-sampler.ts'
import { HistoryStepper, historyGrid } from './history-stepper.ts'
import { buildScenarioModel } from './model.ts'
import { PointBatcher } from './point-batcher.ts'
import { openScenarioFaults, resumeMarks } from './scenario-faults.ts'
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

/**
 * Writes the history of a scenario straight into a store, as the edge agent would have published
 * it: measurement 'telemetry', tags enterprise/site/line/device, canonical fields + `seq`. The same
 * device models as a live run (model.ts) and the scenario's faults (offline = no samples, clock skew
 * = shifted timestamps, …); deterministic with the seed, so two backfills write identical points.
 */
export async function backfillScenario(scenario: Scenario, store: TelemetryStore, options: BackfillOptions): Promise<BackfillResult> {
  const { start, stop } = options
  if (!(Number.isFinite(start) && Number.isFinite(stop) && stop > start))
    throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: stop (${stop}) must be after start (${start})`)
  return simulateScenarioHistory(scenario, store, options)
}

/**
 * backfillScenario without its range check: with stop ≤ start it writes nothing and only carries
 * the counters from `countersAt` to `stop` (finalCounters). For prepareScenarioHistory.
 */
export async function simulateScenarioHistory(scenario: Scenario, store: TelemetryStore, options: BackfillOptions): Promise<BackfillResult> {
  const started = Date.now()
  const settings = historySettings(scenario, options)
  const { start, stop, countersAt } = settings
  const initial: ScenarioCounters = options.initialCounters ?? new Map()
  const faults = openScenarioFaults(scenario, options.groundTruthFile)
  const model = buildScenarioModel(scenario, faults)
  const fields = options.fields === 'core' ? CORE_FIELDS : METER_QUANTITIES
  const devices = createHistoryDevices(model, { timezone: scenario.timezone, fields, faults, initial, resumed: resumeMarks(initial, countersAt) })
  const stepper = new HistoryStepper(devices, settings.dtMs)
  const sampler = new HistorySampler(devices, faults)
  const batcher = new PointBatcher(store, settings.batchSize, options.onProgress)

  // Counters continued from readings integrate from the instant they were read.
  if (options.initialCounters && countersAt < start) stepper.advanceTo(countersAt)
  for (const { t, k, ts } of historyGrid(settings)) {
    stepper.stepTo(ts)
    if (k !== 0) continue
    batcher.add(sampler.sample(t))
    await batcher.writeFull()
  }
  await batcher.finish()
  stepper.finish(stop)
  const { points, batches } = batcher.stats()
  return { points, batches, devices: devices.length, samples: sampler.samples(), finalCounters: finalCounters(devices, stop), elapsedMs: Date.now() - started }
}
