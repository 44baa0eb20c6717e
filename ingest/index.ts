/**
 * Ingest: takes telemetry from the broker (MQTT, QoS 1, a persistent session), validates it again,
 * batches it into the TelemetryStore and acknowledges each message only once it is written; bad
 * messages and conflicting samples go to the dead-letter log. Parts: see ingest/README.md.
 */
export { IngestConfigSchema, type IngestConfig } from './config.ts'
export { startIngest, storedAddresses, type IngestStats, type RunningIngest, type StartIngestOptions, type StoredAddress } from './ingest.ts'
export { createDeadLetterLog, type DeadLetterLogOptions } from './dead-letter.ts'
export { payloadToPoints, partitionOf, QUALITY_CODES } from './telemetry.ts'
