import { PlantWattError } from '../../core/errors.ts'
import type { FaultBook, PresenterOptions } from '../faults.ts'
import { createLinePlcDevice, type LinePlcDevice } from '../plc.ts'
import type { MeterMember } from './meter-groups.ts'
import type { ScenarioMeter, ScenarioProduction } from './model.ts'
import type { ScenarioCounter } from './production-counter.ts'

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
}

/**
 * The line PLCs by endpoint: each line's production counter on the endpoint of the line's main
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
    const device = createLinePlcDevice({
      unitId,
      quantity: p.quantity,
      tick: counter.tick,
      present: deps.faults.createPresenter(p.key, [p.quantity], deps.resumed(p.key)),
      online: (t) => deps.faults.online(p.key, t),
      clock: deps.clock,
    })
    taken.push({ device, index })
    byEndpoint.set(main.endpoint, taken)
  })
  return byEndpoint
}
