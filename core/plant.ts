import Type from 'typebox'
import { CalendarSchema } from './calendar.ts'
import { ID_PATTERN, type DeviceAddress } from './topic.ts'
import { DEFAULT_TIMEZONE } from './windows.ts'

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })

export const DEVICE_KINDS = ['meter', 'machine', 'plc', 'sensor'] as const

export const PlantDeviceSchema = Type.Object(
  {
    id: Id('device id, unique within its line'),
    name: Type.Optional(Type.String({ description: 'display name' })),
    kind: Type.Enum(DEVICE_KINDS, { default: 'meter', description: 'what the device is' }),
    keyEquipment: Type.Boolean({ default: false, description: 'counts towards NC and networking rates' }),
    ncCapable: Type.Boolean({ default: false, description: 'numerically controlled (数控)' }),
    counterModulus: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), Type.Number({ exclusiveMinimum: 0 }), {
        description:
          'per cumulative quantity, the value its register wraps to 0 at, in the quantity’s unit (register range × scale: uint32 × 0.01 kWh = 42949672.96; DL/T 645 XXXXXX.XX = 1000000); `plantwatt edge plan` prints it from the profile',
      }),
    ),
  },
  { additionalProperties: false },
)

const HHMM = '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$'

export const PlantShiftSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'shift name, e.g. A, night' }),
    start: Type.String({ pattern: HHMM, description: 'local start time HH:MM' }),
    end: Type.String({ pattern: HHMM, description: 'local end time HH:MM; at or before start = ends the next day' }),
  },
  { additionalProperties: false },
)

export const PlantProductSchema = Type.Object(
  {
    id: Id('product id'),
    name: Type.Optional(Type.String()),
    unit: Type.Enum(['t', 'pcs'], { description: 't → the output_t counter, pcs → output_count' }),
    productionDevice: Type.String({ pattern: ID_PATTERN, description: 'device id (on this line) whose counter measures the output' }),
    benchmark: Type.Optional(
      Type.String({ description: 'product id of the national benchmark table (analytics/reference/benchmarks.ts) the line is graded on' }),
    ),
  },
  { additionalProperties: false },
)

export const PlantLineSchema = Type.Object(
  {
    id: Id('line id, unique within its site'),
    name: Type.Optional(Type.String()),
    mainMeter: Type.Optional(Type.String({ pattern: ID_PATTERN, description: "the device id of the line's main meter (roll-ups use it, never main + sub)" })),
    product: Type.Optional(PlantProductSchema),
    shifts: Type.Array(PlantShiftSchema, { default: [], description: 'shift pattern, for energy per shift' }),
    devices: Type.Array(PlantDeviceSchema, { default: [] }),
  },
  { additionalProperties: false },
)

/** A device of the same site, as `line/device`. */
const DeviceRef = (description: string) => Type.String({ pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', description })

/** 户号: a supply account — the incomers the utility bills together, and how it bills them. */
export const PlantSupplyAccountSchema = Type.Object(
  {
    id: Id('account id (the utility account number, 户号, or a name for it)'),
    name: Type.Optional(Type.String()),
    incomers: Type.Array(DeviceRef("an incomer of this site (listed in the site's incomers) billed on this account"), { minItems: 1 }),
    voltageKv: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'supply voltage level, kV (1–10, 35, 110, 220)' })),
    transformerKva: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'installed transformer capacity, kVA' })),
    tariff: Type.Optional(Type.String({ description: 'tariff id (analytics reference); default chosen from voltage and kVA' })),
    billingBasis: Type.Optional(
      Type.Enum(['capacity', 'contracted-demand', 'actual-demand'], {
        description: 'two-part basic charge basis: kVA capacity, contracted demand, or actual maximum demand',
      }),
    ),
    contractedDemandKw: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'contracted demand, kW (billingBasis contracted-demand)' })),
    powerFactorStandard: Type.Optional(Type.Number({ minimum: 0.5, maximum: 1, description: '力调 standard: 0.90, 0.85 or 0.80' })),
  },
  { additionalProperties: false },
)

export const PlantSiteSchema = Type.Object(
  {
    id: Id('site id, unique within its enterprise'),
    name: Type.Optional(Type.String()),
    timezone: Type.Optional(Type.String({ description: "IANA time zone; defaults to the plant's" })),
    tariff: Type.Optional(Type.String({ description: 'tariff id (analytics reference); default: the single-part tariff of the enterprise region' })),
    contractedDemandKw: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'contracted maximum 15-minute demand, kW' })),
    incomers: Type.Optional(
      Type.Array(DeviceRef('an incomer (关口表): a meter at the site boundary, any carrier; the enterprise total comes from these'), {
        description: 'none: the enterprise total is the sum of its lines (and says so)',
      }),
    ),
    accounts: Type.Optional(Type.Array(PlantSupplyAccountSchema, { description: 'supply accounts (户号), each billed on its own' })),
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
    attributes: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Boolean(), Type.String()]), {
      default: {},
      description: 'declared facts used by qualification rules (e.g. mesDeployed: true, digitalWorkshops: 2)',
    }),
    calendar: Type.Optional(
      Type.Object(CalendarSchema.properties, {
        additionalProperties: false,
        description:
          "the enterprise's working calendar (weekdays, per-line weekdays, China's holidays and 调休, own days off): the alert detector learns working days and days off apart; a rule's own calendar replaces it",
      }),
    ),
    sites: Type.Array(PlantSiteSchema, { default: [] }),
  },
  { additionalProperties: false },
)

/** The declarative plant model: enterprises → sites → lines → devices. */
export const PlantModelSchema = Type.Object(
  {
    timezone: Type.String({ default: DEFAULT_TIMEZONE, description: 'IANA time zone windows align to' }),
    strict: Type.Boolean({ default: false, description: 'reject telemetry from devices not in the model' }),
    enterprises: Type.Array(PlantEnterpriseSchema, { default: [] }),
  },
  { additionalProperties: false },
)

export type PlantDevice = Type.Static<typeof PlantDeviceSchema>
export type PlantLine = Type.Static<typeof PlantLineSchema>
export type PlantProduct = Type.Static<typeof PlantProductSchema>
export type PlantShift = Type.Static<typeof PlantShiftSchema>
export type PlantSupplyAccount = Type.Static<typeof PlantSupplyAccountSchema>
export type PlantSite = Type.Static<typeof PlantSiteSchema>
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

/** Key (and path) of a line: enterprise/site/line. */
export function lineKey(a: Pick<DeviceAddress, 'enterprise' | 'site' | 'line'>): string {
  return `${a.enterprise}/${a.site}/${a.line}`
}

/** The devices of a plant model, indexed once: by full address and by bare device id. */
export class PlantDeviceIndex {
  /** Every device, in model order. */
  readonly devices: readonly PlantDeviceEntry[]
  private readonly byKey: Map<string, PlantDeviceEntry>
  private readonly byId = new Map<string, PlantDeviceEntry[]>()

  /** No model: an index with no devices. */
  constructor(model: PlantModel | undefined) {
    this.devices = model ? listPlantDevices(model) : []
    this.byKey = new Map(this.devices.map((d) => [deviceKey(d), d]))
    for (const d of this.devices) {
      const list = this.byId.get(d.device)
      if (list) list.push(d)
      else this.byId.set(d.device, [d])
    }
  }

  get(address: DeviceAddress): PlantDeviceEntry | undefined {
    return this.byKey.get(deviceKey(address))
  }

  /** Every device of the model with this id (ids are unique per line, not per plant), in model order. */
  withId(id: string): readonly PlantDeviceEntry[] {
    return this.byId.get(id) ?? []
  }
}
