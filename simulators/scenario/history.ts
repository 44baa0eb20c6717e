import { PlantWattError } from '../../core/errors.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { simulateScenarioHistory } from './backfill.ts'
import { readScenarioCounters, type ScenarioCounterQuantity, type ScenarioCounters } from './counters.ts'
import type { Scenario } from './schema.ts'
import { DAY_MS } from '../../core/duration.ts'

export interface PrepareHistoryOptions {
  /**
   * History written when the store holds none of the scenario's devices, days before now; also the
   * most written after a longer pause (older steps are left as a gap, counters carried across). Default 7.
   */
  days?: number
  /** Sample period of the written history, ms (aligned on multiples of it from the epoch). Default 900 000 (15 min). */
  stepMs?: number
  /**
   * Where history ends and the live run starts, epoch ms — the live run's clock. A function is read
   * again after each pass, and what went by meanwhile is written too (a first start takes seconds).
   * Default Date.now.
   */
  now?: number | (() => number)
  /** Counter integration period, ms. Default 60 000 (15 per 15-minute sample). */
  integrationMs?: number
  /** Meter fields written: 'all' (default) or 'core' (P, Q, PF, Hz, energy import). */
  fields?: 'all' | 'core'
  /** Called after each batch is written, with points so far. */
  onProgress?: (written: number) => void
}

export interface PreparedHistory {
  /** Counters for startScenario(scenario, { initialCounters }): every meter, production counter and machine with a reading. */
  initialCounters: ScenarioCounters
  /** The instant the counters stand at (the last `now` read), epoch ms. */
  at: number
  /** Newest stored sample of the scenario's devices before preparing; undefined when the store held none. */
  previousNewest: number | undefined
  /** Ranges written, [start, stop) each; empty when nothing was missing. */
  written: { start: number; stop: number; points: number }[]
  /** Points written in all. */
  points: number
  elapsedMs: number
}

const MAX_PASSES = 4

/**
 * Makes a store ready for a live run of the scenario that continues its history: writes the
 * simulated samples that are missing — from the step after the newest stored sample of the
 * scenario's devices (or `days` before now when there is none) up to now — and returns the counter
 * readings the live devices continue from (the greater of the history's final counters and the
 * newest stored ones, per device and quantity). A second call with nothing missing writes at most
 * the steps that went by since the newest sample.
 */
export async function prepareScenarioHistory(scenario: Scenario, store: TelemetryStore, options: PrepareHistoryOptions = {}): Promise<PreparedHistory> {
  const started = Date.now()
  const days = options.days ?? 7
  const stepMs = options.stepMs ?? 900_000
  const integrationMs = options.integrationMs ?? 60_000
  if (!(Number.isFinite(days) && days > 0 && days <= 3660))
    throw new PlantWattError('SIM_ERR_BACKFILL', `prepare history: days must be in (0, 3660], got ${days}`)
  if (!(Number.isInteger(stepMs) && stepMs >= 1000 && stepMs <= DAY_MS))
    throw new PlantWattError('SIM_ERR_BACKFILL', `prepare history: stepMs must be an integer from 1000 to ${DAY_MS}, got ${stepMs}`)
  if (!(Number.isInteger(integrationMs) && integrationMs > 0))
    throw new PlantWattError('SIM_ERR_BACKFILL', `prepare history: integrationMs must be a positive integer, got ${integrationMs}`)
  const nowOption = options.now ?? Date.now
  const now = typeof nowOption === 'function' ? nowOption : () => nowOption
  let at = now()
  if (!Number.isFinite(at)) throw new PlantWattError('SIM_ERR_BACKFILL', `prepare history: now must be epoch ms, got ${at}`)

  const stored = await readScenarioCounters(scenario, store)
  const counters = new Map<string, Partial<Record<ScenarioCounterQuantity, number>>>()
  for (const [key, v] of stored.counters) counters.set(key, { ...v })
  const floorStep = (t: number) => Math.floor(t / stepMs) * stepMs
  // Next sample: the step after the newest stored one, or `days` back — never more than `days`
  // (after a longer pause the counters are carried across the rest, which reports see as a gap).
  const earliest = floorStep(at - days * DAY_MS)
  let start = stored.newest === undefined ? earliest : Math.max(earliest, floorStep(stored.newest) + stepMs)
  let countersAt = stored.newest
  const written: PreparedHistory['written'] = []
  let points = 0
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const result = await simulateScenarioHistory(scenario, store, {
      start,
      stop: at,
      stepMs,
      integrationMs,
      ...(options.fields ? { fields: options.fields } : {}),
      ...(countersAt !== undefined ? { initialCounters: counters, countersAt: Math.min(countersAt, start) } : {}),
      ...(options.onProgress ? { onProgress: (n: number) => options.onProgress?.(points + n) } : {}),
    })
    if (result.points > 0) written.push({ start, stop: at, points: result.points })
    points += result.points
    for (const [key, final] of result.finalCounters) {
      const merged = { ...counters.get(key) }
      for (const [q, v] of Object.entries(final) as [ScenarioCounterQuantity, number][]) {
        if (Number.isFinite(v)) merged[q] = Math.max(v, merged[q] ?? 0)
      }
      counters.set(key, merged)
    }
    countersAt = at
    if (at > start) start += Math.ceil((at - start) / stepMs) * stepMs
    // Samples that fell due while this pass ran are written by the next one.
    const next = now()
    if (!(next >= start)) {
      // Carry the counters to `next` too (no samples): the live run starts there.
      if (next > at) {
        const tail = await simulateScenarioHistory(scenario, store, { start, stop: next, stepMs, integrationMs, initialCounters: counters, countersAt: at })
        for (const [key, final] of tail.finalCounters) counters.set(key, { ...counters.get(key), ...final })
        at = next
      }
      break
    }
    if (pass === MAX_PASSES - 1) break
    at = next
  }
  return { initialCounters: counters, at, previousNewest: stored.newest, written, points, elapsedMs: Date.now() - started }
}
