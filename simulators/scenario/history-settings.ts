import { PlantWattError } from '../../core/errors.ts'
import { checkScenarioCounters, type ScenarioCounters } from './counters.ts'
import type { Scenario } from './schema.ts'

/** The options of a backfill that shape its time steps and writes (BackfillOptions, subset). */
export interface HistoryStepOptions {
  start: number
  stop: number
  stepMs?: number
  integrationMs?: number
  batchSize?: number
  initialCounters?: ScenarioCounters
  countersAt?: number
}

/** A backfill's checked settings, defaults filled in. */
export interface HistorySettings {
  /** First sample, epoch ms (inclusive). */
  start: number
  /** End, epoch ms (exclusive for samples; counters are carried up to it). */
  stop: number
  /** Sample period, ms (positive integer). Default 60 000. */
  stepMs: number
  /** Points per write, 1–5000. Default 5000. */
  batchSize: number
  /** When the initial counters were read, epoch ms. Default start. */
  countersAt: number
  /** Integration steps per sample period (≥ 1), and their length dt = stepMs / subSteps, ms. */
  subSteps: number
  dtMs: number
}

/**
 * Checks a backfill's options (SIM_ERR_BACKFILL, or SIM_ERR_CONFIG for the initial counters) in a
 * fixed order — range, counters, countersAt, stepMs, batchSize — and fills in the defaults.
 * integrationMs (default 15 000) is rounded so it divides stepMs.
 */
export function historySettings(scenario: Scenario, options: HistoryStepOptions): HistorySettings {
  const stepMs = options.stepMs ?? 60_000
  const batchSize = Math.min(5000, options.batchSize ?? 5000)
  const { start, stop } = options
  if (!(Number.isFinite(start) && Number.isFinite(stop)))
    throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: start (${start}) and stop (${stop}) must be epoch ms`)
  if (options.initialCounters) checkScenarioCounters(scenario, options.initialCounters, 'backfill: initialCounters')
  const countersAt = options.countersAt ?? start
  if (!(Number.isFinite(countersAt) && countersAt <= Math.max(start, stop)))
    throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: countersAt (${countersAt}) must be at or before start (${start})`)
  if (!(Number.isInteger(stepMs) && stepMs > 0)) throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: stepMs must be a positive integer, got ${stepMs}`)
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new PlantWattError('SIM_ERR_BACKFILL', `backfill: batchSize must be a positive integer`)
  const subSteps = Math.max(1, Math.ceil(stepMs / (options.integrationMs ?? 15_000)))
  return { start, stop, stepMs, batchSize, countersAt, subSteps, dtMs: stepMs / subSteps }
}
