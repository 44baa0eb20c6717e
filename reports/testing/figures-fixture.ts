import { validateConfig } from '../../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../../core/plant.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../../storage/store.ts'
import { HOUR_MS, MINUTE_MS } from '../../core/duration.ts'

/**
 * A plant and a month of counter data whose report figures are worked out by hand in the tests
 * (reports/*.test.ts, api/reports.test.ts). Asia/Shanghai is UTC+8 without DST.
 *
 * acme (region hubei)
 *   w1 (no tariff → Hubei single-part 1–10 kV, contracted 150 kW)
 *     l1: main meter `main`, product clinker (t) counted by `plc`, benchmark cement-clinker (kgce/t: 标杆 100, 基准 117)
 *   w2 (tariff hubei-industrial-two-part-1-10kv, contracted 250 kW)
 *     p1: one meter `m`
 * other (region hubei): s/x/m
 *
 * Data (5-minute samples, local time):
 *  - acme/w1/l1/main: 100 kW from 2026-03-01 00:00 to 2026-04-01 00:00 (both included), counter from
 *    0; reset to 0 at 2026-03-02 12:00 (the flat → valley boundary); no samples strictly between
 *    2026-03-10 00:00 and 2026-03-12 00:00 (a 48 h gap; the counter still shows the 4800 kWh).
 *  - acme/w1/l1/plc: output_t +0.01 t every 5 minutes (0.12 t/h) over the same month, no gap.
 *  - acme/w2/p1/m: 2026-03-02 00:00–24:00, 100 kW except 10:00–11:00 at 300 kW.
 *  - other/s/x/m: 2026-03-02 00:00–24:00, 50 kW.
 */

export const H = HOUR_MS
export const MIN = MINUTE_MS
/** Local midnight of 2026-03-01 (= 2026-02-28T16:00Z). */
export const MARCH = Date.UTC(2026, 1, 28, 16)
/** Local midnight of 2026-04-01. */
export const APRIL = Date.UTC(2026, 2, 31, 16)
/** Local midnight of 2026-03-02. */
export const MAR2 = MARCH + 24 * H
export const RESET_AT = MAR2 + 12 * H
export const GAP_FROM = MARCH + 9 * 24 * H
export const GAP_TO = MARCH + 11 * 24 * H
/** A clock after all the data: every quarter is closed. */
export const AFTER = APRIL + 4 * 24 * H

export const model: PlantModel = validateConfig(
  PlantModelSchema,
  {
    timezone: 'Asia/Shanghai',
    enterprises: [
      {
        id: 'acme',
        region: 'hubei',
        sites: [
          {
            id: 'w1',
            contractedDemandKw: 150,
            lines: [
              {
                id: 'l1',
                mainMeter: 'main',
                product: { id: 'clinker', unit: 't', productionDevice: 'plc', benchmark: 'cement-clinker' },
                shifts: [
                  { name: 'day', start: '08:00', end: '20:00' },
                  { name: 'night', start: '20:00', end: '08:00' },
                ],
                devices: [{ id: 'main' }, { id: 'plc', kind: 'plc' }],
              },
            ],
          },
          { id: 'w2', tariff: 'hubei-industrial-two-part-1-10kv', contractedDemandKw: 250, lines: [{ id: 'p1', devices: [{ id: 'm' }] }] },
        ],
      },
      { id: 'other', region: 'hubei', sites: [{ id: 's', lines: [{ id: 'x', devices: [{ id: 'm' }] }] }] },
    ],
  },
  'report test plant',
)

const STEP = 5 * MIN
const pt = (tags: Record<string, string>, fields: Record<string, number>, ts: number): TelemetryPoint => ({
  measurement: TELEMETRY_MEASUREMENT,
  tags,
  fields,
  ts,
})

/** The main meter's counter at ts (kWh): 100 kW, restarting from 0 at RESET_AT. */
export function mainCounter(ts: number): number {
  return ts < RESET_AT ? (100 * (ts - MARCH)) / H : (100 * (ts - RESET_AT)) / H
}

export function points(): TelemetryPoint[] {
  const out: TelemetryPoint[] = []
  const main = { enterprise: 'acme', site: 'w1', line: 'l1', device: 'main' }
  const plc = { enterprise: 'acme', site: 'w1', line: 'l1', device: 'plc' }
  for (let ts = MARCH; ts <= APRIL; ts += STEP) {
    if (!(ts > GAP_FROM && ts < GAP_TO)) out.push(pt(main, { energy_import_kwh: mainCounter(ts), active_power_kw: 100 }, ts))
    out.push(pt(plc, { output_t: (0.12 * (ts - MARCH)) / H }, ts))
  }
  const p1 = { enterprise: 'acme', site: 'w2', line: 'p1', device: 'm' }
  const x = { enterprise: 'other', site: 's', line: 'x', device: 'm' }
  let kwh = 0
  for (let ts = MAR2; ts <= MAR2 + 24 * H; ts += STEP) {
    out.push(pt(p1, { energy_import_kwh: kwh }, ts))
    const hour = (ts - MAR2) / H
    kwh += ((hour >= 10 && hour < 11 ? 300 : 100) * STEP) / H
    out.push(pt(x, { energy_import_kwh: (50 * (ts - MAR2)) / H }, ts))
  }
  return out
}
