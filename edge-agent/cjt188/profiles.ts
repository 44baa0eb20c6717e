import { PlantWattError } from '../../core/errors.ts'
import { PROFILE_ERROR_CODES } from '../profile-error.ts'
import { HEAT_LAYOUT, type Layout, volumeLayout } from './decode.ts'

/** A shipped CJ/T 188 profile: which reply layout, which meter types, what is published. */
export interface Cjt188Profile {
  name: string
  /** Meter type byte T sent when the device does not set one. */
  meterType: number
  /** Meter types this layout fits. */
  meterTypes: readonly number[]
  layout: Layout
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

export const CJT188_PROFILES: Readonly<Record<string, Cjt188Profile>> = Object.freeze({
  // 10H cold water, 11H domestic hot water, 12H direct drinking water, 13H reclaimed water (10H–19H water).
  'cjt188-water': { name: 'cjt188-water', meterType: 0x10, meterTypes: range(0x10, 0x19), layout: volumeLayout('water_m3') },
  // 30H gas (30H–39H).
  'cjt188-gas': { name: 'cjt188-gas', meterType: 0x30, meterTypes: range(0x30, 0x39), layout: volumeLayout('gas_m3') },
  // 20H heat. 21H (cooling) and 22H (heat and cooling) count cooling energy, which has no canonical quantity.
  'cjt188-heat': { name: 'cjt188-heat', meterType: 0x20, meterTypes: [0x20], layout: HEAT_LAYOUT },
})

/** The profile of that name; EDGE_ERR_PROFILE_UNKNOWN names the shipped ones. */
export function loadCjt188Profile(name: string): Cjt188Profile {
  const p = Object.hasOwn(CJT188_PROFILES, name) ? CJT188_PROFILES[name] : undefined
  if (!p)
    throw new PlantWattError(
      PROFILE_ERROR_CODES.unknown,
      `CJ/T 188 profile ${JSON.stringify(name)} is not shipped (known: ${Object.keys(CJT188_PROFILES).join(', ')})`,
    )
  return p
}
