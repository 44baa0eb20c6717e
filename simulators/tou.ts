/**
 * Hubei industrial time-of-use periods (鄂发改价管〔2024〕77号, DOMAIN.md): which period an instant
 * falls in, by local hour and month. Meters with TOU registers (Acrel ADL400) split their forward
 * energy by these periods.
 */
export const TOU_PERIODS = ['critical_peak', 'peak', 'flat', 'valley'] as const
export type TouPeriod = (typeof TOU_PERIODS)[number]

/** Index into TOU_PERIODS for a local hour (0–23) in a month (1–12). */
export function hubeiTouPeriodIndex(localHour: number, month: number): 0 | 1 | 2 | 3 {
  const h = localHour
  if (h < 6 || (h >= 12 && h < 14)) return 3
  if ((h >= 6 && h < 12) || (h >= 14 && h < 16)) return 2
  const summer = month === 7 || month === 8
  // 16:00–24:00: critical peak 20–22 in July–August, 18–20 in other months; the rest is peak.
  if (summer ? h >= 20 && h < 22 : h >= 18 && h < 20) return 0
  return 1
}

/** Period of instant t (epoch ms) for a zone offset (ms) at t. */
export function hubeiTouPeriodAt(t: number, offsetMs: number): 0 | 1 | 2 | 3 {
  const local = new Date(t + offsetMs)
  return hubeiTouPeriodIndex(local.getUTCHours(), local.getUTCMonth() + 1)
}
