import type { MeterReading } from '../load.ts'
import type { RegisterField } from '../modbus/registers.ts'

/** What a register value is computed from: the meter's reading and its own settings. */
export interface MeterFrame {
  reading: MeterReading
  unitId: number
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
  /** FC 04. */
  input: readonly RegisterField<MeterFrame>[]
  /** FC 03. */
  holding: readonly RegisterField<MeterFrame>[]
}
