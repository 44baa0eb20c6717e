import { eastronSdm630 } from './eastron-sdm630.ts'
import type { MeterProfile } from './profile.ts'

export type { MeterFrame, MeterProfile } from './profile.ts'

/** Meter models the simulator serves; the key is the `profile` config value. */
export const METER_PROFILE_IDS = ['eastron-sdm630'] as const
export type MeterProfileId = (typeof METER_PROFILE_IDS)[number]

export const METER_PROFILES: Readonly<Record<MeterProfileId, MeterProfile>> = {
  'eastron-sdm630': eastronSdm630,
}
