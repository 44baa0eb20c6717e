import Type from 'typebox'

/**
 * How long each resolution is kept (`storage.retention`). Raw points of `measurements` older than
 * `rawDays` are deleted once their minutes are rolled up; the roll-ups answer for them exactly.
 */
export const RetentionConfigSchema = Type.Object(
  {
    rawDays: Type.Integer({ minimum: 1, default: 90, description: 'days raw points are kept (default 90)' }),
    minuteDays: Type.Integer({ minimum: 1, default: 400, description: 'days the 1-minute roll-up is kept (default 400; at least rawDays)' }),
    quarterHourDays: Type.Integer({
      minimum: 1,
      default: 3660,
      description: 'days the 15-minute roll-up is kept (default 3660, ten years; at least minuteDays)',
    }),
    measurements: Type.Array(Type.String({ minLength: 1 }), {
      default: ['telemetry'],
      description: 'measurements whose raw points and roll-ups expire (default telemetry; others, e.g. report state, are kept)',
    }),
  },
  { additionalProperties: false },
)

export const EmbeddedStoreConfigSchema = Type.Object(
  {
    backend: Type.Literal('embedded'),
    path: Type.String({ default: './data/plantwatt.db', description: 'SQLite database file (created with its folder)' }),
    synchronous: Type.Optional(
      Type.Union([Type.Literal('normal'), Type.Literal('full')], {
        default: 'normal',
        description: 'normal: a stored batch survives a process crash; full: also a power loss (fsync per write, slower)',
      }),
    ),
    retention: Type.Optional(Type.Partial(RetentionConfigSchema, { description: 'how long raw data and roll-ups are kept; defaults apply to missing keys' })),
  },
  { additionalProperties: false },
)

export const InfluxStoreConfigSchema = Type.Object(
  {
    backend: Type.Literal('influxdb'),
    url: Type.String({ description: 'base URL, e.g. http://127.0.0.1:8086' }),
    database: Type.String({ description: 'database (1.x) or bucket mapped through DBRP (2.x/3.x)' }),
    retentionPolicy: Type.Optional(Type.String({ description: 'retention policy (1.x); default the database default' })),
    token: Type.Optional(Type.String({ description: 'API token (2.x/3.x), sent as "Authorization: Token …"; prefer env PLANTWATT_INFLUX_TOKEN' })),
    username: Type.Optional(Type.String({ description: 'user (1.x auth)' })),
    password: Type.Optional(Type.String({ description: 'password (1.x auth); prefer env PLANTWATT_INFLUX_PASSWORD' })),
    createDatabase: Type.Boolean({ default: true, description: 'run CREATE DATABASE at start (1.x; harmless when it exists)' }),
    timeoutMs: Type.Integer({ minimum: 100, default: 10_000, description: 'HTTP request timeout' }),
    retention: Type.Optional(
      Type.Partial(RetentionConfigSchema, { description: 'retention policies and continuous queries PlantWatt creates at start (README, influxdb)' }),
    ),
  },
  { additionalProperties: false },
)

export const StoreConfigSchema = Type.Union([EmbeddedStoreConfigSchema, InfluxStoreConfigSchema], {
  default: { backend: 'embedded' },
  description: 'where telemetry is stored: embedded (default) or influxdb',
})

export type RetentionConfig = Type.Static<typeof RetentionConfigSchema>
export type EmbeddedStoreConfig = Type.Static<typeof EmbeddedStoreConfigSchema>
export type InfluxStoreConfig = Type.Static<typeof InfluxStoreConfigSchema>
export type StoreConfig = Type.Static<typeof StoreConfigSchema>
