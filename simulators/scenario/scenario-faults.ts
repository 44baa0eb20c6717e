import { FaultBook, type PresenterOptions } from '../faults.ts'
import type { ScenarioCounters } from './counters.ts'
import { scenarioDeviceKeys } from './model.ts'
import type { Scenario } from './schema.ts'

/**
 * The fault book of a run or a backfill: the scenario's faults injected from their start, written to
 * the ground-truth JSONL when a file is given (FaultBook truncates it first).
 */
export function openScenarioFaults(scenario: Scenario, groundTruthFile?: string): FaultBook {
  const faults = new FaultBook({
    timezone: scenario.timezone,
    seed: scenario.seed,
    devices: scenarioDeviceKeys(scenario),
    ...(groundTruthFile ? { groundTruthFile } : {}),
  })
  for (const f of scenario.faults) faults.inject(f)
  return faults
}

/**
 * Presenter options per device key: devices continued from a reading were resumed at `at`, so the
 * counter resets begun before it are already in that reading; other devices start afresh.
 */
export function resumeMarks(initial: ScenarioCounters, at: number): (key: string) => PresenterOptions {
  return (key) => (initial.has(key) ? { resumedAt: at } : {})
}
