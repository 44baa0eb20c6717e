import { loadPlantWattConfig, type ResolvedConfig } from './config.ts'
import type { CommonOptions } from './options.ts'

/** Secrets from the environment win over the file, so that files can be committed without them. */
export function withSecretsFromEnv(cfg: ResolvedConfig, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const out = structuredClone(cfg) as { -readonly [K in keyof ResolvedConfig]: ResolvedConfig[K] }
  if (env.PLANTWATT_MQTT_PASSWORD) out.mqtt = { ...out.mqtt, password: env.PLANTWATT_MQTT_PASSWORD }
  if (out.storage.backend === 'influxdb') {
    if (env.PLANTWATT_INFLUX_TOKEN) out.storage = { ...out.storage, token: env.PLANTWATT_INFLUX_TOKEN }
    if (env.PLANTWATT_INFLUX_PASSWORD) out.storage = { ...out.storage, password: env.PLANTWATT_INFLUX_PASSWORD }
  }
  return out
}

/** The command's config file (`-c`, else `fallback`, else all defaults) with the secrets of the environment. */
export function loadConfig(opts: CommonOptions, fallback?: string): ResolvedConfig {
  return withSecretsFromEnv(loadPlantWattConfig(opts.config ?? fallback))
}
