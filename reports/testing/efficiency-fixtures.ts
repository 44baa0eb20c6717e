import { validateConfig } from '../../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../../core/plant.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../../storage/store.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../core/duration.ts'

/**
 * Synthetic plant data with hand-worked answers, shared by the reports and API tests of baselines,
 * power factor and data quality. Asia/Shanghai is UTC+8 without DST.
 */

export const MIN = MINUTE_MS
export const H = HOUR_MS
export const DAY = DAY_MS
/** Monday 2026-03-02 00:00 in Asia/Shanghai. */
export const D0 = Date.UTC(2026, 2, 1, 16)

export const PLANT: PlantModel = validateConfig(
  PlantModelSchema,
  {
    timezone: 'Asia/Shanghai',
    enterprises: [
      {
        id: 'acme',
        sites: [
          {
            id: 'w1',
            lines: [
              {
                id: 'l1',
                mainMeter: 'main',
                product: { id: 'widget', unit: 'pcs', productionDevice: 'plc' },
                devices: [{ id: 'main' }, { id: 'sub' }, { id: 'pq' }, { id: 'silent' }, { id: 'plc', kind: 'plc' }],
              },
              { id: 'l2', mainMeter: 'm', devices: [{ id: 'm' }] },
              { id: 'l3', devices: [{ id: 'a' }, { id: 'b' }] },
            ],
          },
        ],
      },
      {
        id: 'other',
        sites: [{ id: 's', lines: [{ id: 'x', mainMeter: 'm', product: { id: 'p', unit: 't', productionDevice: 'm' }, devices: [{ id: 'm' }] }] }],
      },
    ],
  },
  'test plant',
)

export const tagsOf = (line: string, device: string, enterprise = 'acme', site = 'w1') => ({ enterprise, site, line, device })
const point = (tags: Record<string, string>, ts: number, fields: Record<string, number>): TelemetryPoint => ({
  measurement: TELEMETRY_MEASUREMENT,
  tags,
  fields,
  ts,
})

/**
 * Production per day of the baseline period (days 0..13) and of the reporting period (days 14..20).
 * Baseline: energy = 200 + 0.5 × production exactly. Reporting: 10 % less energy than that.
 */
export const BASELINE_OUTPUT = [1000, 1400, 800, 1200, 1600, 900, 1100, 1500, 700, 1300, 1000, 1700, 600, 1200]
export const REPORTING_OUTPUT = [1000, 1200, 800, 1400, 1000, 600, 1600]
export const dayEnergy = (d: number): number => {
  const out = d < 14 ? (BASELINE_OUTPUT[d] as number) : (REPORTING_OUTPUT[d - 14] as number)
  return (d < 14 ? 1 : 0.9) * (200 + 0.5 * out)
}
export const dayOutput = (d: number): number => (d < 14 ? (BASELINE_OUTPUT[d] as number) : (REPORTING_OUTPUT[d - 14] as number))

/**
 * 21 days of counters every 15 minutes on acme/w1/l1 (main: energy_import_kwh, plc: output_count),
 * each day's amount spread evenly over its quarters, the closing reading at day 21 00:00 included.
 */
export function baselineDays(): TelemetryPoint[] {
  const pts: TelemetryPoint[] = []
  let energy = 5000
  let output = 0
  for (let d = 0; d <= 21; d++) {
    const e = d < 21 ? dayEnergy(d) : 0
    const o = d < 21 ? dayOutput(d) : 0
    for (let q = 0; q < (d < 21 ? 96 : 1); q++) {
      const ts = D0 + d * DAY + q * 15 * MIN
      pts.push(point(tagsOf('l1', 'main'), ts, { energy_import_kwh: energy + (e * q) / 96 }))
      pts.push(point(tagsOf('l1', 'plc'), ts, { output_count: output + (o * q) / 96 }))
    }
    energy += e
    output += o
  }
  return pts
}

/**
 * Operating hours: line acme/w1/l2 (main meter m) runs H_d hours a day at 50 kW and idles at 5 kW
 * the rest: E_d = 5 × (24 − H_d) + 50 × H_d = 120 + 45 × H_d. Running hours start at 00:00.
 */
export const RUN_HOURS = [4, 10, 16, 8, 12, 20, 6, 14, 18, 2, 22, 9, 11, 15, 7, 13, 17, 5, 19, 3, 21]
export function operatingDays(): TelemetryPoint[] {
  const pts: TelemetryPoint[] = []
  let energy = 0
  for (let d = 0; d <= 21; d++) {
    for (let h = 0; h < (d < 21 ? 24 : 1); h++) {
      const kw = d < 21 && h < (RUN_HOURS[d] as number) ? 50 : 5
      for (let q = 0; q < 4; q++) {
        pts.push(point(tagsOf('l2', 'm'), D0 + d * DAY + h * H + q * 15 * MIN, { energy_import_kwh: energy }))
        energy += kw / 4
      }
    }
  }
  return pts
}

/** The hour of power-factor and quality data: day 25 00:00 local. */
export const T = D0 + 25 * DAY

/**
 * Power factor on acme/w1/l1 over [T, T + 1 h):
 *  - main: power_factor every minute, +0.95 for minutes 0..39, −0.85 (leading) for 40..59;
 *  - sub: +0.95 then +0.85 likewise (for the windowed path);
 *  - pq: active 30 kW and reactive 40 kvar every minute (PF 0.6), and counters: 300 kWh and 400 kvarh
 *    over the hour (energy PF 0.6);
 *  - silent: nothing.
 */
export function powerFactorHour(): TelemetryPoint[] {
  const pts: TelemetryPoint[] = []
  for (let m = 0; m < 60; m++) {
    const ts = T + m * MIN
    pts.push(point(tagsOf('l1', 'main'), ts, { power_factor: m < 40 ? 0.95 : -0.85 }))
    pts.push(point(tagsOf('l1', 'sub'), ts, { power_factor: m < 40 ? 0.95 : 0.85 }))
    pts.push(point(tagsOf('l1', 'pq'), ts, { active_power_kw: 30, reactive_power_kvar: 40 }))
  }
  for (let q = 0; q <= 4; q++) pts.push(point(tagsOf('l1', 'pq'), T + q * 15 * MIN, { energy_import_kwh: 75 * q, reactive_energy_import_kvarh: 100 * q }))
  return pts
}

/** The quality hour: the next hour after the power-factor one. */
export const TQ = T + H

/**
 * Energy counter of acme/w1/l3/a every minute over [TQ, TQ + 1 h), as ingest stores it:
 *  - minutes 10..14 missing (a gap of 6 minutes between 9 and 15: 5 samples missing);
 *  - minute 20 bad: only q_energy_import_kwh = 2, no value;
 *  - minutes 5 and 6 uncertain: value and q_energy_import_kwh = 1;
 *  - value 100 + m until 29, reset to 0.5 + (m − 30) at 30, then stuck at 9.5 from 39 to 59 (21 samples).
 * Device b sends nothing.
 */
export function qualityHour(): TelemetryPoint[] {
  const pts: TelemetryPoint[] = []
  for (let m = 0; m < 60; m++) {
    if (m >= 10 && m <= 14) continue
    const ts = TQ + m * MIN
    if (m === 20) {
      pts.push(point(tagsOf('l3', 'a'), ts, { q_energy_import_kwh: 2, seq: 1 }))
      continue
    }
    const value = m < 30 ? 100 + m : m < 40 ? 0.5 + (m - 30) : 9.5
    pts.push(point(tagsOf('l3', 'a'), ts, { energy_import_kwh: value, seq: 1, ...(m === 5 || m === 6 ? { q_energy_import_kwh: 1 } : {}) }))
  }
  return pts
}

/** Everything above. */
export function efficiencyData(): TelemetryPoint[] {
  return [...baselineDays(), ...operatingDays(), ...powerFactorHour(), ...qualityHour()]
}
