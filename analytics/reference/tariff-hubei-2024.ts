import type { Tariff, TariffSeason } from './schemas.ts'

/**
 * Hubei industrial time-of-use tariff, 1–10 kV.
 * Periods: 鄂发改价管〔2024〕77号 (Hubei DRC notice on improving the TOU price mechanism):
 * critical peak 18:00–20:00 (July–August 20:00–22:00), peak 16:00–18:00 and 20:00–24:00
 * (July–August 16:00–20:00 and 22:00–24:00), flat 06:00–12:00 and 14:00–16:00, valley 00:00–06:00 and
 * 12:00–14:00. Only the base-price part floats: multipliers critical peak 2.00, peak ≈1.49, flat 1.00,
 * valley 0.45.
 * Prices: January 2026 1–10 kV industrial prices (yuan/kWh) from State Grid Hubei's monthly
 * agency-purchase (代理购电) price table. They change every month: add a version per month
 * (by configuration) for exact bills; in force from 2026-01-01 until the next version.
 */
const NOTICE = '鄂发改价管〔2024〕77号 (periods); State Grid Hubei 代理购电 price table, January 2026, 1–10 kV (prices)'

export const HUBEI_77_OTHER_MONTHS: TariffSeason = {
  name: 'other months',
  months: [1, 2, 3, 4, 5, 6, 9, 10, 11, 12],
  spans: [
    { period: 'valley', from: '00:00', to: '06:00' },
    { period: 'flat', from: '06:00', to: '12:00' },
    { period: 'valley', from: '12:00', to: '14:00' },
    { period: 'flat', from: '14:00', to: '16:00' },
    { period: 'peak', from: '16:00', to: '18:00' },
    { period: 'critical_peak', from: '18:00', to: '20:00' },
    { period: 'peak', from: '20:00', to: '24:00' },
  ],
}

export const HUBEI_77_JULY_AUGUST: TariffSeason = {
  name: 'July–August',
  months: [7, 8],
  spans: [
    { period: 'valley', from: '00:00', to: '06:00' },
    { period: 'flat', from: '06:00', to: '12:00' },
    { period: 'valley', from: '12:00', to: '14:00' },
    { period: 'flat', from: '14:00', to: '16:00' },
    { period: 'peak', from: '16:00', to: '20:00' },
    { period: 'critical_peak', from: '20:00', to: '22:00' },
    { period: 'peak', from: '22:00', to: '24:00' },
  ],
}

export const HUBEI_SINGLE_PART_1_10KV: Tariff = {
  id: 'hubei-industrial-single-part-1-10kv',
  region: 'hubei',
  voltage: '1-10kV',
  voltageKv: { min: 1, max: 35 },
  pricing: 'single-part',
  timezone: 'Asia/Shanghai',
  versions: [
    {
      id: 'hubei-2026-01-single',
      effectiveFrom: '2026-01-01',
      kind: 'single-part',
      currency: 'CNY',
      pricesPerKwh: { critical_peak: 1.113999, peak: 0.910961, flat: 0.715686, valley: 0.496924 },
      seasons: [HUBEI_77_OTHER_MONTHS, HUBEI_77_JULY_AUGUST],
      source: NOTICE,
    },
  ],
}

export const HUBEI_TWO_PART_1_10KV: Tariff = {
  id: 'hubei-industrial-two-part-1-10kv',
  region: 'hubei',
  voltage: '1-10kV',
  voltageKv: { min: 1, max: 35 },
  pricing: 'two-part',
  timezone: 'Asia/Shanghai',
  versions: [
    {
      id: 'hubei-2026-01-two-part',
      effectiveFrom: '2026-01-01',
      kind: 'two-part',
      currency: 'CNY',
      pricesPerKwh: { critical_peak: 1.049999, peak: 0.848961, flat: 0.651886, valley: 0.432924 },
      demandChargePerKwMonth: 42.0,
      capacityChargePerKvaMonth: 26.3,
      seasons: [HUBEI_77_OTHER_MONTHS, HUBEI_77_JULY_AUGUST],
      source: NOTICE,
    },
  ],
}
