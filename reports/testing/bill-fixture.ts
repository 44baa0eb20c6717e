import { validateConfig } from '../../core/config.ts'
import { MINUTE_MS } from '../../core/duration.ts'
import { PlantModelSchema, type PlantModel } from '../../core/plant.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../../storage/store.ts'

/**
 * A site with two supply accounts on one two-part tariff (Hubei 1–10 kV), 1-minute counters for
 * March 2026 (Asia/Shanghai):
 * - `mill/a` (account `arc`, actual demand, 1000 kVA): 100 kW all month, plus 900 kW from 00:07 to
 *   00:22 on 10 March (an arc-furnace melt); kvarh = 0.75 × kWh (PF 0.80).
 * - `mill/b` (account `aux`, contracted 100 kW, 200 kVA): 104 kW all month (104 % of the contract);
 *   kvarh = 0.3 × kWh (PF 0.958).
 * - `mill/c`: a sub-meter, not an incomer.
 */
export const MIN = MINUTE_MS
/** 2026-03-01T00:00 Asia/Shanghai. */
export const MARCH = Date.UTC(2026, 1, 28, 16)
export const APRIL = Date.UTC(2026, 2, 31, 16)
export const MELT_FROM = MARCH + 9 * 24 * 60 * MIN + 7 * MIN

export const billModel: PlantModel = validateConfig(
  PlantModelSchema,
  {
    timezone: 'Asia/Shanghai',
    enterprises: [
      {
        id: 'steel',
        region: 'hubei',
        sites: [
          {
            id: 'works',
            incomers: ['mill/a', 'mill/b'],
            accounts: [
              { id: 'arc', incomers: ['mill/a'], voltageKv: 10, transformerKva: 1000, billingBasis: 'actual-demand', powerFactorStandard: 0.9 },
              { id: 'aux', incomers: ['mill/b'], voltageKv: 10, transformerKva: 200, billingBasis: 'contracted-demand', contractedDemandKw: 100 },
            ],
            lines: [{ id: 'mill', devices: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] }],
          },
        ],
      },
    ],
  },
  'bill test plant',
)

/** kW of a meter in the minute starting at ts. */
export function billKwAt(device: 'a' | 'b', ts: number): number {
  if (device === 'b') return 104
  return ts >= MELT_FROM && ts < MELT_FROM + 15 * MIN ? 1000 : 100
}

/** 1-minute counters of meters a and b from an hour before March to a minute into April. */
export function billPoints(): TelemetryPoint[] {
  const out: TelemetryPoint[] = []
  for (const [device, q] of [
    ['a', 0.75],
    ['b', 0.3],
  ] as const) {
    let kwh = 5000
    for (let ts = MARCH - 60 * MIN; ts <= APRIL + MIN; ts += MIN) {
      out.push({
        measurement: TELEMETRY_MEASUREMENT,
        tags: { enterprise: 'steel', site: 'works', line: 'mill', device },
        fields: { energy_import_kwh: kwh, reactive_energy_import_kvarh: 1000 + q * (kwh - 5000) },
        ts,
      })
      kwh += billKwAt(device, ts) / 60
    }
  }
  return out
}
