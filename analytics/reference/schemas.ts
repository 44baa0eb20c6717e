import Type from 'typebox'

/**
 * Schemas of the reference tables (coal coefficients, grid emission factors, tariffs, benchmark
 * values). The shipped tables satisfy them, and a user's YAML overrides are validated against them
 * (core/config.ts validateConfig) before `resolveReference` merges them in.
 */

const Source = Type.String({ minLength: 1, description: 'where the numbers come from (standard, notice, URL)' })
const Key = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' })

export const CoalCoefficientSchema = Type.Object(
  {
    carrier: Key,
    unit: Type.String({ description: 'unit of the carrier amount the coefficient applies to: kWh, m3, kg, MJ' }),
    kgcePerUnit: Type.Number({ description: 'kilograms of coal equivalent (29.3076 MJ/kg) per unit' }),
    description: Type.Optional(Type.String()),
    source: Type.Optional(Source),
    verified: Type.Optional(Type.Boolean({ description: 'false: not traced to the standard text; grades using it say so' })),
  },
  { additionalProperties: false },
)

export const CoalTableSchema = Type.Object(
  {
    version: Type.String(),
    source: Source,
    coefficients: Type.Array(CoalCoefficientSchema),
  },
  { additionalProperties: false },
)

export const RegionSchema = Type.Object(
  {
    id: Key,
    name: Type.Optional(Type.String()),
    parent: Type.Optional(Type.String({ description: 'the wider region to fall back to when this one has no factor' })),
  },
  { additionalProperties: false },
)

export const EmissionFactorSchema = Type.Object(
  {
    region: Key,
    year: Type.Integer({ minimum: 1990, maximum: 2100 }),
    kgCo2PerKwh: Type.Number({ minimum: 0 }),
    source: Source,
    verified: Type.Boolean({ default: true, description: 'false: the value could not be traced to its publication' }),
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

export const EmissionFactorTableSchema = Type.Object(
  {
    version: Type.String(),
    source: Source,
    regions: Type.Array(RegionSchema),
    factors: Type.Array(EmissionFactorSchema),
  },
  { additionalProperties: false },
)

const Clock = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$', description: "local wall-clock time 'HH:MM', 24:00 = end of day" })

export const TariffSpanSchema = Type.Object(
  { period: Key, from: Clock, to: Clock },
  { additionalProperties: false, description: 'a period from `from` to `to` local time (to ≤ from wraps past midnight)' },
)

export const TariffSeasonSchema = Type.Object(
  {
    name: Type.String(),
    months: Type.Array(Type.Integer({ minimum: 1, maximum: 12 }), { minItems: 1, description: 'local months 1–12 this schedule applies to' }),
    spans: Type.Array(TariffSpanSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
)

export const TariffVersionSchema = Type.Object(
  {
    id: Key,
    effectiveFrom: Type.String({
      pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
      description: 'local date from which this version is in force (until the next version)',
    }),
    kind: Type.Union([Type.Literal('single-part'), Type.Literal('two-part')]),
    currency: Type.String({ default: 'CNY' }),
    pricesPerKwh: Type.Record(Type.String(), Type.Number({ minimum: 0 }), { description: 'energy price per period, currency per kWh' }),
    demandChargePerKwMonth: Type.Optional(Type.Number({ minimum: 0, description: 'two-part: charge per kW of monthly maximum 15-minute demand' })),
    capacityChargePerKvaMonth: Type.Optional(Type.Number({ minimum: 0, description: 'two-part alternative: charge per kVA of contracted capacity' })),
    seasons: Type.Array(TariffSeasonSchema, { minItems: 1 }),
    source: Source,
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

/** Supply voltage levels a tariff row applies to: `min ≤ kV < max` (no max: and above). 1–10(20) kV = { min: 1, max: 35 }. */
export const TariffVoltageSchema = Type.Object(
  {
    min: Type.Number({ minimum: 0, description: 'lowest supply voltage of the row, kV (inclusive)' }),
    max: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'kV (exclusive); absent = and above' })),
  },
  { additionalProperties: false },
)

export const TariffSchema = Type.Object(
  {
    id: Key,
    region: Key,
    voltage: Type.Optional(Type.String({ description: "supply voltage class, e.g. '1-10kV'" })),
    voltageKv: Type.Optional(TariffVoltageSchema),
    pricing: Type.Optional(
      Type.Union([Type.Literal('single-part'), Type.Literal('two-part')], {
        description: "single-part (电度电价 only) or two-part (plus demand or capacity charge); absent: the versions' kind",
      }),
    ),
    timezone: Type.String({ default: 'Asia/Shanghai', description: 'IANA zone the period clock times are in' }),
    versions: Type.Array(TariffVersionSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
)

export const BenchmarkProductSchema = Type.Object(
  {
    id: Key,
    name: Type.String(),
    indicator: Type.String({ description: 'what is measured, e.g. 综合能耗 (comprehensive energy consumption)' }),
    unit: Type.String({ description: "'kgce/t' or 'kWh/t' (lower is better)" }),
    standard: Type.Optional(Type.String({ description: 'the GB 单位产品能源消耗限额 standard of the GB levels' })),
    gbLevels: Type.Optional(
      Type.Object(
        { level1: Type.Number(), level2: Type.Number(), level3: Type.Number() },
        { additionalProperties: false, description: 'GB levels 1 (best) … 3 (limit)' },
      ),
    ),
    ndrc: Type.Optional(
      Type.Object(
        {
          benchmark: Type.Number({ description: '标杆 (advanced)' }),
          baseline: Type.Number({ description: '基准 (must reach)' }),
          verified: Type.Boolean({ default: true }),
          document: Type.Optional(Type.String({ description: 'the notice the levels come from, e.g. 发改产业〔2023〕723号' })),
        },
        { additionalProperties: false },
      ),
    ),
    kind: Type.Optional(
      Type.Union([Type.Literal('comprehensive-energy'), Type.Literal('electricity')], {
        description: 'comprehensive-energy: every carrier of `carriers`, kgce/t; electricity: net kWh only, kWh/t. Absent: from the unit',
      }),
    ),
    carriers: Type.Optional(Type.Array(Key, { description: 'carriers (analytics/carriers.ts ids) counted inside the boundary; others are left out' })),
    requires: Type.Optional(
      Type.Array(
        Type.Object(
          {
            role: Type.String({ description: "what is missing when none is metered or entered: 'fuel', 'electricity', 'oxygen', 'recovered-gas' …" }),
            anyOf: Type.Array(Key, { minItems: 1 }),
          },
          { additionalProperties: false },
        ),
        { description: 'each group needs one of its carriers metered or entered for the period, else the product is ungraded' },
      ),
    ),
    boundary: Type.Optional(Type.String({ description: 'the process boundary the levels refer to' })),
    electricityBasis: Type.Optional(
      Type.Union([Type.Literal('equivalent'), Type.Literal('equal-value')], {
        description:
          'electricity at the equivalent value (当量值, 0.1229 kgce/kWh; default) or the equal value (等价值: configure carrier electricity-equal-value)',
      }),
    ),
    companions: Type.Optional(Type.Array(Key, { description: 'other indicators of the same product graded alongside (e.g. clinker 综合电耗 with 综合能耗)' })),
    source: Source,
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

export const BenchmarkTableSchema = Type.Object(
  { version: Type.String(), source: Source, products: Type.Array(BenchmarkProductSchema) },
  { additionalProperties: false },
)

/**
 * A user's overrides from YAML. Entries replace shipped entries with the same key (carrier;
 * region + year; tariff id; product id) and add new ones; `replace: true` drops the shipped table.
 */
export const ReferenceOverridesSchema = Type.Object(
  {
    coal: Type.Optional(
      Type.Object(
        { replace: Type.Boolean({ default: false }), coefficients: Type.Array(CoalCoefficientSchema, { default: [] }) },
        { additionalProperties: false },
      ),
    ),
    emissionFactors: Type.Optional(
      Type.Object(
        {
          replace: Type.Boolean({ default: false }),
          regions: Type.Array(RegionSchema, { default: [] }),
          factors: Type.Array(EmissionFactorSchema, { default: [] }),
        },
        { additionalProperties: false },
      ),
    ),
    tariffs: Type.Optional(
      Type.Object({ replace: Type.Boolean({ default: false }), tariffs: Type.Array(TariffSchema, { default: [] }) }, { additionalProperties: false }),
    ),
    benchmarks: Type.Optional(
      Type.Object(
        { replace: Type.Boolean({ default: false }), products: Type.Array(BenchmarkProductSchema, { default: [] }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)

export type CoalCoefficient = Type.Static<typeof CoalCoefficientSchema>
export type CoalTable = Type.Static<typeof CoalTableSchema>
export type Region = Type.Static<typeof RegionSchema>
export type EmissionFactor = Type.Static<typeof EmissionFactorSchema>
export type EmissionFactorTable = Type.Static<typeof EmissionFactorTableSchema>
export type TariffSpan = Type.Static<typeof TariffSpanSchema>
export type TariffSeason = Type.Static<typeof TariffSeasonSchema>
export type TariffVersion = Type.Static<typeof TariffVersionSchema>
export type TariffVoltage = Type.Static<typeof TariffVoltageSchema>
export type Tariff = Type.Static<typeof TariffSchema>
export type BenchmarkProduct = Type.Static<typeof BenchmarkProductSchema>
export type BenchmarkTable = Type.Static<typeof BenchmarkTableSchema>
export type ReferenceOverrides = Type.Static<typeof ReferenceOverridesSchema>
