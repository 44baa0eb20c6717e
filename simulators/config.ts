import Type from 'typebox'
import { ID_PATTERN } from '../core/topic.ts'
import { METER_PROFILE_IDS } from './meters/index.ts'
import { DEFAULT_TIMEZONE } from '../core/windows.ts'

export const SimMeterSchema = Type.Object(
  {
    id: Type.String({ pattern: ID_PATTERN, description: 'meter id, unique in the simulation; also derives its noise seed' }),
    profile: Type.Enum(METER_PROFILE_IDS, { description: 'register map served' }),
    host: Type.String({ default: '127.0.0.1', minLength: 1, description: 'address to listen on' }),
    port: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 0,
      description: 'TCP port; 0 = any free port. Meters on the same non-zero port share it by unit id',
    }),
    unitId: Type.Integer({ minimum: 1, maximum: 247, default: 1, description: 'Modbus unit (slave) id' }),
    ratedKw: Type.Number({ exclusiveMinimum: 0, description: 'active power at load shape 1.0, kW' }),
    startEnergyKwh: Type.Number({ minimum: 0, default: 0, description: 'import energy counter at start, kWh' }),
  },
  { additionalProperties: false },
)

/** `plantwatt sim` configuration: Modbus TCP meters driven by the shipped steel-plant load shape. */
export const SimConfigSchema = Type.Object(
  {
    seed: Type.Integer({ default: 1, description: 'PRNG seed; the same seed gives the same values at the same instant' }),
    timezone: Type.String({ default: DEFAULT_TIMEZONE, description: 'IANA zone whose local time of week drives the load shape' }),
    updateIntervalMs: Type.Integer({ minimum: 0, default: 1000, description: 'period of register updates, ms; 0 = only on demand' }),
    meters: Type.Array(SimMeterSchema, { default: [], description: 'simulated meters' }),
  },
  { additionalProperties: false },
)

export type SimConfig = Type.Static<typeof SimConfigSchema>
export type SimMeterConfig = Type.Static<typeof SimMeterSchema>
