import type { FaultBook, PresenterOptions } from '../faults.ts'
import { createMeterDevice, type MeterDevice } from '../modbus-meter.ts'
import type { ScenarioCounters } from './counters.ts'
import { meterStart } from './meter-start.ts'
import type { ScenarioMeter } from './model.ts'

/** A scenario meter and the device (no I/O yet) that serves it. */
export interface MeterMember {
  meter: ScenarioMeter
  device: MeterDevice
}

export interface MeterGroupDeps {
  timezone: string
  clock: () => number
  faults: FaultBook
  initial: ScenarioCounters
  resumed: (key: string) => PresenterOptions
}

/**
 * The meters' devices, grouped by endpoint (one listener or serial line each), in the order of the
 * model: groups by their first meter, meters within a group as they come.
 */
export function createMeterGroups(meters: readonly ScenarioMeter[], deps: MeterGroupDeps): Map<string, MeterMember[]> {
  const groups = new Map<string, MeterMember[]>()
  for (const m of meters) {
    const device = createMeterDevice({
      profile: m.profile,
      ratedKw: m.ratedKw,
      unitId: m.unitId,
      seed: m.seed,
      timezone: deps.timezone,
      clock: deps.clock,
      ...meterStart(m, deps.initial.get(m.key)),
      powerKw: m.powerKw,
      powerFactor: m.powerFactor,
      hooks: deps.faults.meterHooks(m.key, deps.resumed(m.key)),
      historySize: 600,
      ...(m.ctRatio ? { ctRatio: m.ctRatio } : {}),
    })
    const g = groups.get(m.endpoint) ?? []
    g.push({ meter: m, device })
    groups.set(m.endpoint, g)
  }
  return groups
}
