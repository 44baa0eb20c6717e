import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Option } from 'commander'
import type { TSchema } from 'typebox'
import { describeSchema } from '../core/config.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { MqttSectionSchema } from '../core/mqtt.ts'
import { StoreConfigSchema } from '../storage/config.ts'
import { BrokerConfigSchema } from '../broker/config.ts'
import { IngestConfigSchema } from '../ingest/config.ts'
import { EdgeConfigSchema } from '../edge-agent/config.ts'
import { ApiConfigSchema } from '../api/config.ts'
import { SimConfigSchema } from '../simulators/config.ts'

/** The checkout (or installed package) root: where package.json, examples/ and bench/ are. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version
/** Config of `plantwatt up` and `plantwatt sim` without `-c`. */
export const DEMO_CONFIG = join(PACKAGE_ROOT, 'examples', 'demo.yaml')

/** `-c, --config <file>`: every command that reads the config file has it. */
export interface CommonOptions {
  config?: string
}

const SECTION_SCHEMAS: Readonly<Record<string, TSchema>> = {
  plant: PlantModelSchema,
  mqtt: MqttSectionSchema,
  storage: StoreConfigSchema,
  broker: BrokerConfigSchema,
  ingest: IngestConfigSchema,
  edge: EdgeConfigSchema,
  api: ApiConfigSchema,
  sim: SimConfigSchema,
}

/** `--help` text listing every config key of the sections a command reads, from the schemas. */
export function configHelp(sections: readonly string[]): string {
  const lines = ['', 'Config file keys this command reads (YAML; every key optional unless a default is missing):']
  for (const s of sections) {
    const schema = SECTION_SCHEMAS[s]
    if (schema) lines.push(...describeSchema(schema, s))
  }
  lines.push(
    '',
    'Environment: PLANTWATT_LOG_LEVEL (default warn for up, info otherwise), PLANTWATT_MQTT_PASSWORD,',
    '  PLANTWATT_INFLUX_TOKEN, PLANTWATT_INFLUX_PASSWORD override the secrets of the file.',
  )
  return lines.join('\n')
}

/** `--<name> <port>`: a whole number 0–65535 (0 = any free port). */
export function portOption(name: string, what: string): Option {
  return new Option(`--${name} <port>`, `${what} (0 = any free port)`).argParser((v) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number 0-65535, got ${v}`)
    return n
  })
}

/** The section with the options given on the command line (undefined ones leave the file's value). */
export function override<T extends object>(section: T, patch: Partial<T>): T {
  const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined))
  return { ...section, ...defined }
}
