import { QUANTITIES } from '../core/quantities.ts'
import type { Dlt645Point } from './dlt645/profile.ts'
import type { ProfilePoint } from './modbus/profile.ts'

/**
 * The register modulus of a profile's cumulative counters: the value (in the quantity's unit) a
 * counter wraps to 0 at. Reports need it in the plant model (device `counterModulus`) to tell a
 * rollover from a reset; `plantwatt edge plan` prints it for each device so it can be copied there.
 *
 *  - Modbus unsigned integers: 2^(16 × registers) × scale (uint32 × 0.01 kWh = 42,949,672.96);
 *    a float or signed register has no modulus a counter reaches (none is given).
 *  - DL/T 645 BCD: 10^(2 × bytes − decimals) × scale (4 bytes XXXXXX.XX kWh = 1,000,000).
 *  - A point multiplied by a CT/PT ratio wraps at the register modulus × the ratio: known only when
 *    the device's config sets `ctRatio`/`ptRatio` (else read from the meter at connect).
 */

export interface CounterModulus {
  quantity: string
  /** Undefined when it depends on a ratio read from the meter at connect. */
  modulus?: number
  /** How it was derived, e.g. `uint32 × 0.01`. */
  basis: string
}

const isCounter = (q: string): boolean => q in QUANTITIES && 'cumulative' in QUANTITIES[q as keyof typeof QUANTITIES]
const REGISTERS: Partial<Record<ProfilePoint['type'], number>> = { uint16: 1, uint32: 2, uint64: 4 }

/** Modbus points: the moduli of the unsigned integer counters. `ratios`: the configured CT and PT ratios, if any. */
export function modbusCounterModuli(points: readonly ProfilePoint[], ratios: { ct?: number; pt?: number } = {}): CounterModulus[] {
  const out: CounterModulus[] = []
  for (const p of points) {
    const registers = REGISTERS[p.type]
    if (!isCounter(p.quantity) || registers === undefined) continue
    const register = 2 ** (16 * registers) * p.scale
    const basis = `${p.type} × ${p.scale}`
    if (p.ratio === undefined) {
      out.push({ quantity: p.quantity, modulus: register, basis })
      continue
    }
    const factors = p.ratio === 'ct' ? [ratios.ct] : p.ratio === 'pt' ? [ratios.pt] : [ratios.ct, ratios.pt]
    const known = factors.every((f) => f !== undefined)
    const ratio = factors.reduce<number>((a, f) => a * (f ?? 1), 1)
    out.push(
      known
        ? { quantity: p.quantity, modulus: register * ratio, basis: `${basis} × ${p.ratio.toUpperCase()} ratio ${ratio}` }
        : { quantity: p.quantity, basis: `${basis} × the ${p.ratio.toUpperCase()} ratio read at connect (${register} × ratio)` },
    )
  }
  return out
}

/** DL/T 645 points: every unsigned counter's BCD range. */
export function dlt645CounterModuli(points: readonly Dlt645Point[]): CounterModulus[] {
  return points
    .filter((p) => isCounter(p.quantity) && !p.signed)
    .map((p) => ({
      quantity: p.quantity,
      modulus: 10 ** (2 * p.bytes - p.decimals) * p.scale,
      basis: `BCD ${2 * p.bytes} digits, ${p.decimals} decimals × ${p.scale}`,
    }))
}
