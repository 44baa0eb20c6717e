import { PlantWattError } from '../../core/errors.ts'
import type { FaultBook, PresenterOptions } from '../faults.ts'
import { createLinePlcDevice, type LinePlcDevice, type LinePlcReading } from '../plc.ts'
import type { MeterMember } from './meter-groups.ts'
import type { ScenarioMeter, ScenarioProduction } from './model.ts'
import type { ScenarioCounter } from './production-counter.ts'
import type { ScenarioCounters } from './counters.ts'
import { carrierStart } from './meter-start.ts'

/** A line PLC and the index of the production counter it serves (in model.production). */
export interface LinePlc {
  device: LinePlcDevice
  index: number
}

export interface LinePlcDeps {
  scenarioName: string
  clock: () => number
  faults: FaultBook
  resumed: (key: string) => PresenterOptions
  /** Readings the carrier counters continue from (as the production counter does from its own); default 0. */
  initial?: ScenarioCounters
}

/**
 * The PLC's tick: the production counter's, and each carrier counter advanced by the output made
 * since the run began times its rate per unit (as the backfill's history does), from its start.
 */
function plcTick(p: ScenarioProduction, counter: ScenarioCounter, initial: ScenarioCounters | undefined): () => LinePlcReading {
  const rates = p.carriers ?? []
  if (rates.length === 0) return counter.tick
  const given = initial?.get(p.key)
  const starts = rates.map((c) => ({ quantity: c.quantity, perUnit: c.perUnit, start: carrierStart(c.quantity, given?.[c.quantity] ?? 0) }))
  const outputStart = counter.snapshot().value
  return () => {
    const r = counter.tick()
    const made = Math.max(0, r.value - outputStart)
    return { ...r, carriers: Object.fromEntries(starts.map((c) => [c.quantity, c.start + made * c.perUnit])) }
  }
}

/**
 * The line PLCs by endpoint: each line's production counter (and the carrier counters of its
 * product: coal, gas, oxygen) on the endpoint of the line's main
 * meter, under the unit id one above the highest there (meters and PLCs placed before it). A line
 * without a main meter gets none (its counter ticks alone). SIM_ERR_CONFIG past unit id 247.
 */
export function createLinePlcs(
  production: readonly ScenarioProduction[],
  counters: readonly ScenarioCounter[],
  meters: readonly ScenarioMeter[],
  groups: ReadonlyMap<string, readonly MeterMember[]>,
  deps: LinePlcDeps,
): Map<string, LinePlc[]> {
  const byEndpoint = new Map<string, LinePlc[]>()
  production.forEach((p, index) => {
    const lineKey = p.key.slice(0, p.key.lastIndexOf('/'))
    const main = meters.find((m) => m.role === 'main' && m.key.startsWith(`${lineKey}/`))
    if (!main) return
    const group = groups.get(main.endpoint) ?? []
    const taken = byEndpoint.get(main.endpoint) ?? []
    const unitId = Math.max(0, ...group.map((g) => g.meter.unitId), ...taken.map((t) => t.device.unitId)) + 1
    if (unitId > 247)
      throw new PlantWattError('SIM_ERR_CONFIG', `scenario ${deps.scenarioName}: no unit id left for the production counter ${p.key} on ${main.endpoint}`)
    const counter = counters[index]!
    const carriers = (p.carriers ?? []).map((c) => c.quantity)
    const device = createLinePlcDevice({
      unitId,
      quantity: p.quantity,
      carriers,
      tick: plcTick(p, counter, deps.initial),
      present: deps.faults.createPresenter(p.key, [p.quantity, ...carriers], deps.resumed(p.key)),
      online: (t) => deps.faults.online(p.key, t),
      clock: deps.clock,
    })
    taken.push({ device, index })
    byEndpoint.set(main.endpoint, taken)
  })
  return byEndpoint
}
