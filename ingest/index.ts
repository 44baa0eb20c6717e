export { IngestConfigSchema, type IngestConfig } from './config.ts'
export { startIngest, type IngestStats, type RunningIngest, type StartIngestOptions } from './ingest.ts'
export { createDeadLetterLog, type DeadLetterLogOptions } from './dead-letter.ts'
export { payloadToPoints, partitionOf, QUALITY_CODES } from './telemetry.ts'
