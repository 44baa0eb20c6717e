import type { TariffSeason, TariffVersion } from './schemas.ts'
import { HUBEI_77_JULY_AUGUST, HUBEI_77_OTHER_MONTHS } from './tariff-hubei-2024.ts'

/**
 * The TOU period layouts of Hubei's industrial and commercial tariff over time, without prices.
 * Prices change every month (State Grid Hubei's 代理购电 table) and the pre-2026 tables could not be
 * read and checked here, so no pre-2026 price is shipped: history before 2026-01-01 is priced only
 * once its versions are configured (`reference.tariffs.tariffs`). These layouts say which periods
 * such a version must price, and the multipliers of the floating part that produced the prices.
 */
export interface TouPeriodLayout {
  id: string
  /** Local date from which the layout applies, as far as the source says. */
  from: string
  /** Local date of the next layout (exclusive); undefined = still in force. */
  until?: string
  seasons: TariffSeason[]
  /** Price ratio of each period to the flat price, on the part that floats (base price without government funds). */
  multipliers: Record<string, number>
  /** Who is on TOU pricing. */
  scope: string
  source: string
  /** false: read from a secondary reprint, not from the notice itself. */
  verified: boolean
  note?: string
}

const ALL_MONTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]

/** In force from 2021-01-01 until the 2024 reform; year-round, one season. */
export const HUBEI_TOU_2021: TouPeriodLayout = {
  id: 'hubei-tou-2021',
  from: '2021-01-01',
  seasons: [
    {
      name: 'all months',
      months: ALL_MONTHS,
      spans: [
        { period: 'valley', from: '23:00', to: '07:00' },
        { period: 'flat', from: '07:00', to: '09:00' },
        { period: 'peak', from: '09:00', to: '15:00' },
        { period: 'flat', from: '15:00', to: '20:00' },
        { period: 'critical_peak', from: '20:00', to: '22:00' },
        { period: 'flat', from: '22:00', to: '23:00' },
      ],
    },
  ],
  multipliers: { critical_peak: 1.8, peak: 1.49, flat: 1, valley: 0.48 },
  scope: 'industrial and commercial users of 100 kVA and above, single- and two-part (commercial lighting and public institutions excepted)',
  source: 'Hubei TOU price notice in force from 2021-01-01 (湖北电网峰谷分时电价), as reprinted: periods and 180 % / 149 % / 100 % / 48 % of the base price',
  verified: false,
  note: 'read from a secondary reprint; the notice number was not traced',
}

/**
 * 鄂发改价管〔2024〕77号: the layout of the shipped 2026 versions. Multipliers: the public consultation
 * of 2024-01-03 gave 1.8 / 1.49 / 1 / 0.48, with critical peak 2.0 and valley 0.45 in July, August,
 * December and January; its valley hours (01:00–07:00 and 12:00–14:00) differ from the notice's as
 * shipped (00:00–06:00 and 12:00–14:00) — check the notice's date and hours before configuring 2024–2025.
 */
export const HUBEI_TOU_2024: TouPeriodLayout = {
  id: 'hubei-tou-2024-77',
  from: '2024-01-01',
  seasons: [HUBEI_77_OTHER_MONTHS, HUBEI_77_JULY_AUGUST],
  multipliers: { critical_peak: 2, peak: 1.49, flat: 1, valley: 0.45 },
  scope: 'industrial and commercial users on TOU pricing',
  source: '鄂发改价管〔2024〕77号 (periods); 2024-01-03 consultation (multipliers)',
  verified: false,
  note: 'effective date not traced to the notice: 2024-01-01 is the earliest it can apply',
}

/** The layouts in order; the 2021 one ends where the 2024 one starts. */
export const HUBEI_TOU_LAYOUTS: readonly TouPeriodLayout[] = [{ ...HUBEI_TOU_2021, until: HUBEI_TOU_2024.from }, HUBEI_TOU_2024]

/** The layout in force on a local date 'YYYY-MM-DD', if any. */
export function hubeiTouLayoutOn(date: string): TouPeriodLayout | undefined {
  return HUBEI_TOU_LAYOUTS.find((l) => l.from <= date && (l.until === undefined || date < l.until))
}

/**
 * A tariff version on a layout with the prices of a bill or price table (yuan/kWh per period): what
 * a configured history version looks like. Throws nothing itself: validateTariff checks the result.
 */
export function versionOnLayout(layout: TouPeriodLayout, v: Omit<TariffVersion, 'seasons' | 'currency'> & { currency?: string }): TariffVersion {
  return { currency: 'CNY', ...v, seasons: layout.seasons, note: v.note ?? `periods: ${layout.id} (${layout.source})` }
}
