import { readFileSync } from 'node:fs'
import Type from 'typebox'
import { Value } from 'typebox/value'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { schemaProblems, type ConfigProblem } from '../../core/config.ts'
import { PlantWattError } from '../../core/errors.ts'
import { ID_PATTERN } from '../../core/topic.ts'
import { METER_PROFILE_IDS } from '../meters/index.ts'
import { BENCHMARK_IDS, BENCHMARKS, CARRIER_QUANTITIES, SEC_GRADES } from './benchmarks.ts'
import { DEFAULT_TIMEZONE } from '../../core/windows.ts'
import { deviceKey, lineKey } from '../../core/plant.ts'

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })
const HHMM = '^([01][0-9]|2[0-3]):[0-5][0-9]$'
/** An instant: ISO 8601 with offset (e.g. 2024-03-05T10:00:00+08:00) or epoch ms. */
const Instant = (description: string) => Type.Union([Type.String({ format: 'date-time' }), Type.Integer({ minimum: 0 })], { description })

export const ShiftSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    start: Type.String({ pattern: HHMM, description: 'local start time HH:MM' }),
    end: Type.String({ pattern: HHMM, description: 'local end time HH:MM; before start = ends the next day' }),
    days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), {
      default: [1, 2, 3, 4, 5, 6, 7],
      minItems: 1,
      description: 'ISO weekdays the shift starts on, 1 = Monday',
    }),
  },
  { additionalProperties: false },
)

const transport = {
  transport: Type.Enum(['tcp', 'rtu'], { default: 'tcp', description: 'Modbus TCP, or RTU on a serial device' }),
  host: Type.String({ default: '127.0.0.1', minLength: 1, description: 'TCP: address to listen on' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: "TCP port; 0 = the line's own free port, shared by its meters by unit id" }),
  unitId: Type.Optional(Type.Integer({ minimum: 1, maximum: 247, description: "Modbus unit id; default: position in the line's meters, main = 1" })),
  serialPath: Type.Optional(Type.String({ minLength: 1, description: 'RTU: serial device (required for rtu)' })),
  baudRate: Type.Integer({ default: 9600, minimum: 1200, description: 'RTU baud rate' }),
  ctRatio: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      description: 'CT ratio served; default 1, or a standard x/5 A ratio for the rating on secondary-side maps (acrel-adl400-secondary)',
    }),
  ),
}

export const MainMeterSchema = Type.Object(
  {
    id: Id('device id of the main meter'),
    name: Type.Optional(Type.String()),
    profile: Type.Enum(METER_PROFILE_IDS, { default: 'acrel-adl400-primary', description: 'register map served' }),
    ...transport,
  },
  { additionalProperties: false },
)

export const SubMeterSchema = Type.Object(
  {
    id: Id('device id of the sub-meter'),
    name: Type.Optional(Type.String()),
    profile: Type.Enum(METER_PROFILE_IDS, { default: 'chint-dtsu666' }),
    share: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: "fraction of the line's load this meter measures" }),
    keyEquipment: Type.Boolean({ default: false, description: 'key process equipment (NC and networking rates)' }),
    ncCapable: Type.Boolean({ default: false, description: 'numerically controlled (数控)' }),
    ...transport,
  },
  { additionalProperties: false },
)

export const MACHINE_KINDS = ['cnc', 'press', 'furnace', 'mill'] as const
export const MachineSchema = Type.Object(
  {
    id: Id('device id of the machine'),
    name: Type.Optional(Type.String()),
    kind: Type.Enum(MACHINE_KINDS),
    ratedKw: Type.Number({ exclusiveMinimum: 0, description: 'power when running, kW' }),
    keyEquipment: Type.Boolean({ default: true }),
    ncCapable: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
)

export const ProductSchema = Type.Object(
  {
    id: Id('product id'),
    name: Type.Optional(Type.String()),
    unit: Type.Enum(['t', 'pcs'], { description: 't → output_t, pcs → output_count' }),
    benchmark: Type.Optional(Type.Enum(BENCHMARK_IDS, { description: 'national indicator the line is graded on (benchmarks.ts)' })),
    secTarget: Type.Union([Type.Enum(SEC_GRADES), Type.Number({ exclusiveMinimum: 0 })], {
      description:
        "where the line sits: benchmark | compliant | below_baseline (needs benchmark), or a value in the indicator's unit (kWh per unit without one)",
    }),
    electricityKwhPerUnit: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description: 'kgce indicators: the line electricity per unit of output; the balancing carrier takes the rest of the target',
      }),
    ),
    carriers: Type.Optional(
      Type.Array(
        Type.Object(
          {
            quantity: Type.Enum(CARRIER_QUANTITIES, { description: 'counter the production PLC reports: coal_t, gas_m3, oxygen_m3' }),
            perUnit: Type.Optional(Type.Number({ minimum: 0, description: 'counter units per unit of output' })),
            balance: Type.Optional(Type.Boolean({ description: 'this carrier takes what the target leaves (one per line)' })),
          },
          { additionalProperties: false },
        ),
        { description: 'fuels and working media the line uses, counted by its production PLC (GB/T 2589 comprehensive energy)' },
      ),
    ),
  },
  { additionalProperties: false },
)

export const LineSchema = Type.Object(
  {
    id: Id('line id'),
    name: Type.Optional(Type.String()),
    loadShape: Type.Enum(['steel', 'continuous', 'shifts'], {
      description: 'steel = the shipped UCI steel-plant week; continuous = kiln-like 24/7; shifts = on during shifts, idle otherwise',
    }),
    ratedKw: Type.Number({ exclusiveMinimum: 0, description: 'line power at shape level 1.0, kW' }),
    idleFraction: Type.Number({ minimum: 0, maximum: 0.9, default: 0.1, description: 'power that produces nothing (idle, auxiliaries), fraction of ratedKw' }),
    lossFraction: Type.Number({ minimum: 0, maximum: 0.5, default: 0.03, description: "unmetered share of the main meter's load (losses, lighting)" }),
    powerFactor: Type.Number({ minimum: 0.7, maximum: 0.99, default: 0.9 }),
    shifts: Type.Array(ShiftSchema, { default: [] }),
    product: ProductSchema,
    productionDevice: Id('device id of the production counter (a PLC)'),
    mainMeter: MainMeterSchema,
    subMeters: Type.Array(SubMeterSchema, { default: [] }),
    machines: Type.Array(MachineSchema, { default: [], description: 'OPC UA machines of the line' }),
  },
  { additionalProperties: false },
)

export const SiteSchema = Type.Object(
  {
    id: Id('site id'),
    name: Type.Optional(Type.String()),
    city: Type.Optional(Type.String()),
    incomers: Type.Optional(
      Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*$' }), { description: "the site's boundary meters (关口表) as line/device" }),
    ),
    lines: Type.Array(LineSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
)

export const EnterpriseSchema = Type.Object(
  {
    id: Id('enterprise id'),
    name: Type.Optional(Type.String()),
    industry: Type.Optional(Type.String()),
    region: Type.String({ default: 'hubei' }),
    attributes: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Boolean(), Type.String()]), {
      default: {},
      description: 'declared facts for qualification rules (core/plant.ts), passed to the plant model',
    }),
    sites: Type.Array(SiteSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
)

export const FAULT_KINDS = ['step', 'drift', 'spike', 'standby', 'offline', 'garbage', 'counter_reset', 'stuck', 'clock_skew'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export const FaultSchema = Type.Object(
  {
    device: Type.String({
      pattern: '^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*$',
      description: 'enterprise/site/line/device',
    }),
    kind: Type.Enum(FAULT_KINDS),
    start: Instant('when the fault begins'),
    end: Type.Optional(Instant('when it ends; absent = never')),
    deltaKw: Type.Optional(Type.Number({ description: 'step, spike: added load, kW' })),
    kwPerDay: Type.Optional(Type.Number({ description: 'drift: added load grows by this much per day, kW' })),
    kw: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'standby: load left on at night, kW' })),
    nightStart: Type.String({ pattern: HHMM, default: '22:00', description: 'standby: local start of the night' }),
    nightEnd: Type.String({ pattern: HHMM, default: '06:00', description: 'standby: local end of the night' }),
    skewMs: Type.Optional(Type.Integer({ description: 'clock_skew: device clock minus true time, ms' })),
  },
  { additionalProperties: false },
)
export type FaultSpec = Type.Static<typeof FaultSchema>
/** A fault as given to injectFault(): the schema's defaulted fields may be left out. */
export type FaultInput = Omit<FaultSpec, 'nightStart' | 'nightEnd'> & Partial<Pick<FaultSpec, 'nightStart' | 'nightEnd'>>

export const ScenarioSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    seed: Type.Integer({ default: 1, description: 'the same seed gives the same data' }),
    timezone: Type.String({ default: DEFAULT_TIMEZONE }),
    speed: Type.Number({ exclusiveMinimum: 0, default: 1, description: 'live runs: simulated seconds per real second' }),
    startTime: Type.Optional(Instant('live runs: simulated time at start; default now')),
    updateIntervalMs: Type.Integer({ minimum: 0, default: 1000, description: 'live runs: real ms between register updates' }),
    enterprises: Type.Array(EnterpriseSchema, { minItems: 1 }),
    faults: Type.Array(FaultSchema, { default: [] }),
  },
  { additionalProperties: false },
)

export type Scenario = Type.Static<typeof ScenarioSchema>
export type ScenarioLine = Type.Static<typeof LineSchema>
export type ScenarioShift = Type.Static<typeof ShiftSchema>

/** Epoch ms of an Instant. */
export function instantMs(value: string | number): number {
  return typeof value === 'number' ? value : Date.parse(value)
}

const FAULT_PARAMS: Record<FaultKind, readonly (keyof FaultSpec)[]> = {
  step: ['deltaKw'],
  drift: ['kwPerDay'],
  spike: ['deltaKw'],
  standby: ['kw'],
  offline: [],
  garbage: [],
  counter_reset: [],
  stuck: [],
  clock_skew: ['skewMs'],
}

/** Problems the schema cannot see: duplicate ids, shares, references, fault parameters. */
function semanticProblems(s: Scenario): ConfigProblem[] {
  const out: ConfigProblem[] = []
  const dup = (ids: string[], path: string, what: string): void => {
    const seen = new Set<string>()
    ids.forEach((id, i) => {
      if (seen.has(id)) out.push({ path: `${path}/${i}`, message: `${what} id ${JSON.stringify(id)} is used twice` })
      seen.add(id)
    })
  }
  dup(
    s.enterprises.map((e) => e.id),
    '/enterprises',
    'enterprise',
  )
  const devices = new Set<string>()
  const machines = new Set<string>()
  const endpoints = new Map<string, string>()
  s.enterprises.forEach((e, ei) => {
    dup(
      e.sites.map((x) => x.id),
      `/enterprises/${ei}/sites`,
      'site',
    )
    e.sites.forEach((site, si) => {
      dup(
        site.lines.map((l) => l.id),
        `/enterprises/${ei}/sites/${si}/lines`,
        'line',
      )
      site.lines.forEach((line, li) => {
        const lp = `/enterprises/${ei}/sites/${si}/lines/${li}`
        const ids = [line.mainMeter.id, ...line.subMeters.map((m) => m.id), line.productionDevice, ...line.machines.map((m) => m.id)]
        const seen = new Set<string>()
        for (const id of ids) {
          if (seen.has(id)) out.push({ path: lp, message: `device id ${JSON.stringify(id)} is used twice in the line` })
          seen.add(id)
          devices.add(deviceKey({ enterprise: e.id, site: site.id, line: line.id, device: id }))
        }
        for (const m of line.machines) machines.add(deviceKey({ enterprise: e.id, site: site.id, line: line.id, device: m.id }))
        const shares = line.subMeters.reduce((a, m) => a + m.share, 0)
        if (line.subMeters.length > 0 && Math.abs(shares + line.lossFraction - 1) > 1e-6) {
          out.push({ path: `${lp}/subMeters`, message: `sub-meter shares (${shares.toFixed(4)}) + lossFraction (${line.lossFraction}) must be 1` })
        }
        if (typeof line.product.secTarget === 'string' && !line.product.benchmark) {
          out.push({ path: `${lp}/product/secTarget`, message: `${line.product.secTarget} needs product.benchmark, or give kWh per unit` })
        }
        out.push(...carrierProblems(line.product, `${lp}/product`))
        if (line.loadShape === 'shifts' && line.shifts.length === 0) out.push({ path: `${lp}/shifts`, message: 'loadShape shifts needs at least one shift' })
        const meters = [{ m: line.mainMeter, p: `${lp}/mainMeter` }, ...line.subMeters.map((m, i) => ({ m, p: `${lp}/subMeters/${i}` }))]
        meters.forEach(({ m, p }, i) => {
          if (m.transport === 'rtu' && !m.serialPath) out.push({ path: `${p}/serialPath`, message: 'required for transport rtu' })
          const unit = m.unitId ?? i + 1
          const where =
            m.transport === 'rtu'
              ? `rtu:${m.serialPath}`
              : m.port === 0
                ? `line:${lineKey({ enterprise: e.id, site: site.id, line: line.id })}`
                : `tcp:${m.host}:${m.port}`
          const key = `${where}#${unit}`
          if (endpoints.has(key)) out.push({ path: `${p}/unitId`, message: `unit id ${unit} on ${where} is also used by ${endpoints.get(key)}` })
          else endpoints.set(key, deviceKey({ enterprise: e.id, site: site.id, line: line.id, device: m.id }))
        })
      })
    })
  })
  s.faults.forEach((f, i) => {
    const p = `/faults/${i}`
    if (machines.has(f.device))
      out.push({ path: `${p}/device`, message: `${f.device} is an OPC UA machine: faults act on meters and production counters only` })
    else if (!devices.has(f.device)) out.push({ path: `${p}/device`, message: `no device ${f.device} in the scenario` })
    for (const key of FAULT_PARAMS[f.kind]) if (f[key] === undefined) out.push({ path: `${p}/${key}`, message: `required for ${f.kind}` })
    if (Number.isNaN(instantMs(f.start))) out.push({ path: `${p}/start`, message: 'not a date-time' })
    if (f.end !== undefined && !(instantMs(f.end) > instantMs(f.start))) out.push({ path: `${p}/end`, message: 'must be after start' })
  })
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: s.timezone })
  } catch {
    out.push({ path: '/timezone', message: `unknown time zone ${JSON.stringify(s.timezone)}` })
  }
  return out
}

/**
 * Validates a parsed scenario, fills defaults, and returns a frozen copy. Every problem — schema and
 * semantic — is reported at once in one SIM_ERR_SCENARIO whose details list { path, message }.
 */
export function parseScenario(raw: unknown, source = 'scenario'): Readonly<Scenario> {
  const withDefaults = Value.Default(ScenarioSchema, Value.Clone(raw ?? {}))
  let problems = schemaProblems(ScenarioSchema, withDefaults)
  if (problems.length === 0) problems = semanticProblems(withDefaults as Scenario)
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')
    throw new PlantWattError('SIM_ERR_SCENARIO', `${source}: ${problems.length} problem(s)\n${lines}`, { details: problems })
  }
  return deepFreeze(withDefaults as Scenario)
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child)
  }
  return value
}

/** Shipped scenarios by name (simulators/scenarios/<name>.yaml). */
export function scenarioFileUrl(name: string): URL {
  return new URL(`../scenarios/${name}.yaml`, import.meta.url)
}

/**
 * Loads a scenario from a file path or a shipped name ('hubei'). YAML syntax errors and schema
 * problems are SIM_ERR_SCENARIO naming the file.
 */
export function loadScenario(fileOrName: string): Readonly<Scenario> {
  const isName = /^[a-z0-9][a-z0-9_-]*$/.test(fileOrName)
  const file = isName ? scenarioFileUrl(fileOrName) : fileOrName
  const label = isName ? `scenario ${fileOrName}` : fileOrName
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new PlantWattError('SIM_ERR_SCENARIO', `${label}: cannot read scenario (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause })
  }
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (cause) {
    const pos = cause instanceof YAMLParseError ? cause.linePos?.[0] : undefined
    throw new PlantWattError('SIM_ERR_SCENARIO', `${label}: YAML syntax error${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}`, {
      cause,
      details: [{ path: '/', message: (cause as Error).message }],
    })
  }
  return parseScenario(raw, label)
}

/** A kgce indicator needs its electricity per unit and exactly one balancing carrier; carriers appear once. */
function carrierProblems(
  product: {
    benchmark?: (typeof BENCHMARK_IDS)[number]
    electricityKwhPerUnit?: number
    carriers?: ReadonlyArray<{ quantity: string; perUnit?: number; balance?: boolean }>
  },
  path: string,
): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = []
  const carriers = product.carriers ?? []
  const quantities = carriers.map((c) => c.quantity)
  if (new Set(quantities).size !== quantities.length) out.push({ path: `${path}/carriers`, message: 'a carrier appears twice' })
  const balancing = carriers.filter((c) => c.balance).length
  const kgce = product.benchmark !== undefined && BENCHMARKS[product.benchmark].unit === 'kgce/t'
  if (product.electricityKwhPerUnit !== undefined && (!kgce || balancing !== 1)) {
    out.push({ path: `${path}/electricityKwhPerUnit`, message: 'needs a kgce/t benchmark and exactly one carrier with balance: true' })
  }
  if (balancing > 0 && product.electricityKwhPerUnit === undefined) out.push({ path: `${path}/carriers`, message: 'balance needs electricityKwhPerUnit' })
  carriers.forEach((c, i) => {
    if (!c.balance && c.perUnit === undefined) out.push({ path: `${path}/carriers/${i}/perUnit`, message: 'required unless balance: true' })
  })
  return out
}
