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
export { createEmbeddedStore, type EmbeddedStoreOptions } from './embedded/index.ts'
export { createInfluxStore, type InfluxStoreOptions } from './influxdb/index.ts'

/** Opens the configured backend: embedded (SQLite file) or influxdb (v1-compatible HTTP API). */
export async function createStore(config: StoreConfig): Promise<TelemetryStore> {
  switch (config.backend) {
    case 'embedded':
      return createEmbeddedStore(config)
    case 'influxdb':
      return createInfluxStore(config)
  }
}
