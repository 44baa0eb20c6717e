/**
 * Where telemetry lives: the TelemetryStore contract (store.ts) and its two backends, embedded
 * (SQLite) and influxdb (v1-compatible HTTP API, line protocol only here), plus the event log.
 */
import { createEmbeddedStore } from './embedded/index.ts'
import { createInfluxStore } from './influxdb/index.ts'
import type { StoreConfig } from './config.ts'
import type { TelemetryStore } from './store.ts'

export * from './store.ts'
export type { EmbeddedStoreConfig, InfluxStoreConfig, StoreConfig } from './config.ts'
export { createEmbeddedStore, type EmbeddedStore, type EmbeddedStoreOptions, type StoreFault } from './embedded/index.ts'
export { embeddedFileBytes } from './embedded/status.ts'
export type { RetentionConfig } from './config.ts'
export { DEFAULT_RETENTION, resolveRetention } from './retention.ts'
export { createInfluxStore, type InfluxStoreOptions } from './influxdb/index.ts'

/** Opens the configured backend: embedded (SQLite file) or influxdb (v1-compatible HTTP API). */
export async function createStore(config: StoreConfig): Promise<TelemetryStore> {
  switch (config.backend) {
    case 'embedded':
      // A configured store always keeps its roll-ups and retention (defaults for missing keys).
      return createEmbeddedStore({ ...config, retention: config.retention ?? {} })
    case 'influxdb':
      return createInfluxStore(config)
  }
}
