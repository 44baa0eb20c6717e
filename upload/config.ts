/** The `upload:` section of the plant's config: where and how this enterprise uploads its indicators. */
import Type from 'typebox'

export const UploadConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'run the uploader inside `plantwatt up`' }),
    url: Type.String({ default: '', description: 'base URL of the province service, e.g. https://province.example:8443' }),
    caFile: Type.Optional(Type.String({ description: "PEM of the CA the province's certificate chains to; default the system CAs" })),
    enterprise: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9][a-z0-9_-]{0,63}$',
        description: "this enterprise's id in the plant model and the province registry; default the plant's only enterprise",
      }),
    ),
    keyFile: Type.Optional(Type.String({ description: "the enterprise's Ed25519 private key (PEM file); or env PLANTWATT_UPLOAD_KEY holding the PEM" })),
    dataDir: Type.String({ default: 'data/upload', description: 'folder of the outbox (outbox.sqlite)' }),
    intervalS: Type.Integer({ minimum: 1, default: 60, description: 'how often closed periods are computed and the outbox drained, s' }),
    settleS: Type.Integer({ minimum: 0, default: 120, description: 'a period is computed this long after it closes (late telemetry), s' }),
    backfillDays: Type.Integer({ minimum: 1, maximum: 400, default: 35, description: 'how far back a first start (or a long outage) computes, days' }),
    recheckDays: Type.Integer({
      minimum: 0,
      maximum: 62,
      default: 2,
      description: 'recent days recomputed each hour; a changed figure goes up as a new revision',
    }),
    batchRecords: Type.Integer({ minimum: 1, maximum: 5000, default: 2000, description: 'records per request' }),
    timeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
    initialBackoffMs: Type.Integer({ minimum: 1, default: 1000, description: 'first retry delay after a failure; doubles, with jitter' }),
    maxBackoffMs: Type.Integer({ minimum: 1, default: 300_000 }),
  },
  { additionalProperties: false },
)
export type UploadConfig = Type.Static<typeof UploadConfigSchema>
