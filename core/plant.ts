import Type from 'typebox'
import { ID_PATTERN, type DeviceAddress } from './topic.ts'

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })

export const DEVICE_KINDS = ['meter', 'machine', 'plc', 'sensor'] as const

export const PlantDeviceSchema = Type.Object(
  {
    id: Id('device id, unique within its line'),
    name: Type.Optional(Type.String({ description: 'display name' })),
    kind: Type.Enum(DEVICE_KINDS, { default: 'meter', description: 'what the device is' }),
    keyEquipment: Type.Boolean({ default: false, description: 'counts towards NC and networking rates' }),
    ncCapable: Type.Boolean({ default: false, description: 'numerically controlled (数控)' }),
  },
  { additionalProperties: false },
)

export const PlantLineSchema = Type.Object(
  {
    id: Id('line id, unique within its site'),
    name: Type.Optional(Type.String()),
    mainMeter: Type.Optional(Type.String({ pattern: ID_PATTERN, description: "the device id of the line's main meter (roll-ups use it, never main + sub)" })),
    devices: Type.Array(PlantDeviceSchema, { default: [] }),
  },
  { additionalProperties: false },
)

export const PlantSiteSchema = Type.Object(
  {
    id: Id('site id, unique within its enterprise'),
    name: Type.Optional(Type.String()),
    timezone: Type.Optional(Type.String({ description: "IANA time zone; defaults to the plant's" })),
    lines: Type.Array(PlantLineSchema, { default: [] }),
  },
  { additionalProperties: false },
)

export const PlantEnterpriseSchema = Type.Object(
  {
    id: Id('enterprise id'),
    name: Type.Optional(Type.String()),
    industry: Type.Optional(Type.String({ description: 'e.g. cement, steel, auto-parts' })),
    region: Type.String({ default: 'hubei', description: 'region key for tariffs and emission factors' }),
    sites: Type.Array(PlantSiteSchema, { default: [] }),
  },
  { additionalProperties: false },
)

/** The declarative plant model: enterprises → sites → lines → devices. */
export const PlantModelSchema = Type.Object(
  {
    timezone: Type.String({ default: 'Asia/Shanghai', description: 'IANA time zone windows align to' }),
    strict: Type.Boolean({ default: false, description: 'reject telemetry from devices not in the model' }),
    enterprises: Type.Array(PlantEnterpriseSchema, { default: [] }),
  },
  { additionalProperties: false },
)

export type PlantDevice = Type.Static<typeof PlantDeviceSchema>
export type PlantModel = Type.Static<typeof PlantModelSchema>

export interface PlantDeviceEntry extends DeviceAddress {
  name: string
  kind: PlantDevice['kind']
  keyEquipment: boolean
  ncCapable: boolean
  mainMeter: boolean
  timezone: string
}

/** Flattens the model into one entry per device, with its full address. */
export function listPlantDevices(model: PlantModel): PlantDeviceEntry[] {
  const out: PlantDeviceEntry[] = []
  for (const e of model.enterprises) {
    for (const s of e.sites) {
      for (const l of s.lines) {
        for (const d of l.devices) {
          out.push({
            enterprise: e.id,
            site: s.id,
            line: l.id,
            device: d.id,
            name: d.name ?? d.id,
            kind: d.kind,
            keyEquipment: d.keyEquipment,
            ncCapable: d.ncCapable,
            mainMeter: l.mainMeter === d.id,
            timezone: s.timezone ?? model.timezone,
          })
        }
      }
    }
  }
  return out
}

/** Key used to look a device up by its address. */
export function deviceKey(a: DeviceAddress): string {
  return `${a.enterprise}/${a.site}/${a.line}/${a.device}`
}
