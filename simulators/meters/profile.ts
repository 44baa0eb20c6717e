import type { MeterReading } from '../load.ts'
import type { GapPolicy, RegisterField } from '../modbus/registers.ts'

/** What a register value is computed from: the meter's reading and its own settings. */
export interface MeterFrame {
  reading: MeterReading
  unitId: number
  /** Current transformer ratio (primary A / secondary A); 1 for a direct-connected meter. */
  ctRatio: number
  /** Voltage transformer ratio; 1 on low-voltage (230/400 V) connections. */
  ptRatio: number
  /** Forward (import) energy split by Hubei TOU period: critical peak, peak, flat, valley, kWh. */
  touImportKwh: readonly [number, number, number, number]
}

/**
 * A meter model's Modbus register map, written from the vendor's table (never shared with the edge
 * agent's decoding). One file per model under meters/, named by the profile id.
 */
export interface MeterProfile {
  /** Registry key and config value, e.g. 'eastron-sdm630'. */
  id: string
  description: string
  /** The vendor document the map was written from. */
  source: string
  /**
   * 'secondary': the map serves values on the secondary side of the CT (and PT), so the device
   * picks a standard CT ratio (x/5 A) from its rating unless one is given. Default 'primary'.
   */
  side?: 'primary' | 'secondary'
  /** Block reads across unmapped registers; default 'exception'. */
  gaps?: GapPolicy
  /** FC 04. */
  input: readonly RegisterField<MeterFrame>[]
  /** FC 03. */
  holding: readonly RegisterField<MeterFrame>[]
}
