import { acrelAdl400Primary, acrelAdl400Secondary } from './acrel-adl400.ts'
import { chintDtsu666 } from './chint-dtsu666.ts'
import { eastronSdm630 } from './eastron-sdm630.ts'
import type { MeterProfile } from './profile.ts'

export type { MeterFrame, MeterProfile } from './profile.ts'

/** Meter models the simulator serves; the key is the `profile` config value. */
export const METER_PROFILE_IDS = ['eastron-sdm630', 'chint-dtsu666', 'acrel-adl400-secondary', 'acrel-adl400-primary'] as const
export type MeterProfileId = (typeof METER_PROFILE_IDS)[number]

export const METER_PROFILES: Readonly<Record<MeterProfileId, MeterProfile>> = {
  'eastron-sdm630': eastronSdm630,
  'chint-dtsu666': chintDtsu666,
  'acrel-adl400-secondary': acrelAdl400Secondary,
  'acrel-adl400-primary': acrelAdl400Primary,
}

// Standard CT primaries for x/5 A transformers (GB/T 20840.2 series values), A.
const CT_PRIMARIES_A = [
  5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 100, 150, 200, 250, 300, 400, 500, 600, 750, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000, 6000,
] as const

/**
 * The CT ratio a meter on the secondary side of x/5 A transformers would be fitted with: the
 * smallest standard primary that carries the rated current (230 V phases, PF 0.85) with 25 % margin.
 */
export function defaultCtRatio(ratedKw: number): number {
  const ratedA = (ratedKw * 1000) / (3 * 230 * 0.85)
  const primary = CT_PRIMARIES_A.find((a) => a >= ratedA * 1.25) ?? CT_PRIMARIES_A[CT_PRIMARIES_A.length - 1]
  return (primary as number) / 5
}
