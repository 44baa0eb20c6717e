import { parseScenario, type FaultInput, type Scenario } from '../scenario/schema.ts'

// Test fixtures only (the product never imports them): the two lines the scenario tests run — a
// continuous clinker kiln metered by an ADL400 with two sub-meters, and a day-shift brake-disc line
// on an SDM630 — and a scenario of one enterprise, one site and the lines given.

type LineInput = Record<string, unknown>

/** The clinker kiln: 2000 kW continuous, DCS production counter, mill + fan sub-meters (96 % of the load). */
export function kilnLine(overrides: LineInput = {}): LineInput {
  return {
    id: 'kiln',
    loadShape: 'continuous',
    ratedKw: 2000,
    idleFraction: 0.1,
    lossFraction: 0.04,
    product: { id: 'clinker', unit: 't', benchmark: 'clinker-electricity', secTarget: 'compliant' },
    productionDevice: 'dcs',
    mainMeter: { id: 'main', profile: 'acrel-adl400-primary' },
    subMeters: [
      { id: 'mill', share: 0.56, profile: 'chint-dtsu666' },
      { id: 'fan', share: 0.4, profile: 'eastron-sdm630' },
    ],
    ...overrides,
  }
}

/** The brake-disc line: 320 kW, day shift 08:00–20:00 Monday to Friday, line PLC counter, no sub-meter. */
export function discLine(overrides: LineInput = {}): LineInput {
  return {
    id: 'disc',
    loadShape: 'shifts',
    ratedKw: 320,
    idleFraction: 0.18,
    lossFraction: 0.06,
    shifts: [{ name: 'day', start: '08:00', end: '20:00', days: [1, 2, 3, 4, 5] }],
    product: { id: 'brake-disc', unit: 'pcs', secTarget: 2.4 },
    productionDevice: 'line-plc',
    mainMeter: { id: 'main', profile: 'eastron-sdm630' },
    ...overrides,
  }
}

/** A scenario of enterprise `ent`, site `site` and the lines given, parsed (and so checked) like a file. */
export function siteScenario(name: string, seed: number, lines: readonly LineInput[], faults: FaultInput[] = []): Scenario {
  return parseScenario({ name, seed, enterprises: [{ id: 'ent', sites: [{ id: 'site', lines }] }], faults })
}
