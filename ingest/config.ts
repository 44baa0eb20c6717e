import Type from 'typebox'
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../core/payload.ts'
import { SparkplugIngestSchema } from './sparkplug/config.ts'

export const IngestRetrySchema = Type.Object(
  {
    initialMs: Type.Integer({ minimum: 1, default: 200, description: 'first wait after a failed store write' }),
    maxMs: Type.Integer({ minimum: 1, default: 10_000, description: 'the wait doubles up to this' }),
  },
  { additionalProperties: false, default: {} },
)

export const IngestPartitionSchema = Type.Object(
  {
    index: Type.Integer({ minimum: 0, description: "this instance's partition, 0 … count-1" }),
    count: Type.Integer({ minimum: 1, description: 'number of ingest instances sharing the topic space' }),
  },
  { additionalProperties: false },
)

/** Ingest: MQTT subscriber → decode + validate → batch → TelemetryStore.write. */
export const IngestConfigSchema = Type.Object(
  {
    batchSize: Type.Integer({ minimum: 1, default: 5000, description: 'write once this many points (one per sample) are pending' }),
    flushIntervalMs: Type.Integer({
      minimum: 1,
      default: 100,
      description:
        'write at the latest this long after the first pending message, ms. Under load batches fill to batchSize first; at a plant’s rate this is the delay a live value waits before it is stored and streamed (bench/live-latency.ts)',
    }),
    maxPayloadBytes: Type.Integer({ minimum: 1, default: DEFAULT_MAX_PAYLOAD_BYTES, description: 'larger payloads are dead-lettered (bytes)' }),
    maxInFlightMessages: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: 'messages received but not yet written and acknowledged; at the bound ingest stops reading (backpressure)',
    }),
    retry: IngestRetrySchema,
    deadLetterFile: Type.Optional(Type.String({ description: 'JSON Lines file dead letters are appended to (folder created)' })),
    deadLetterMemory: Type.Integer({ minimum: 0, default: 1000, description: 'newest dead letters kept in memory for the API' }),
    partition: Type.Optional(IngestPartitionSchema),
    sharedGroup: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{1,64}$',
        description:
          "subscribe as a member of this MQTT shared-subscription group ($share/<group>/…) on a broker that has them (EMQX, HiveMQ, Mosquitto ≥ 1.6): each message reaches one instance of the group. Not with partition. PlantWatt's own broker (Aedes) refuses it: use partition there",
      }),
    ),
    conflictWindowSamples: Type.Integer({
      minimum: 10_000,
      default: 100_000,
      description:
        "samples (device, ts and values) remembered to tell a second, different sample for the same device and ts from a re-delivery, in front of stores that cannot tell themselves (InfluxDB). At least one payload (10 000 samples) so a payload's own repeats are always seen; about 250 bytes each. Older samples are forgotten: a conflict that arrives later overwrites unseen. The embedded store answers exactly and needs none",
    }),
    sparkplug: Type.Optional(SparkplugIngestSchema),
    stateIntervalMs: Type.Integer({
      minimum: 0,
      default: 10_000,
      description: 'publish stats() (retained JSON) to pw/sys/ingest/{clientId} this often (ms; 0 = never); the will marks it disconnected',
    }),
  },
  { additionalProperties: false },
)

export type IngestConfig = Type.Static<typeof IngestConfigSchema>
