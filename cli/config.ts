import { readFileSync } from 'node:fs'
import Type from 'typebox'
import { parseConfigText, validateConfig } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { MqttSectionSchema } from '../core/mqtt.ts'
import { StoreConfigSchema } from '../storage/config.ts'
import { BrokerConfigSchema } from '../broker/config.ts'
import { IngestConfigSchema } from '../ingest/config.ts'
import { EdgeConfigSchema } from '../edge-agent/config.ts'
import { ApiConfigSchema } from '../api/config.ts'
import { SimConfigSchema } from '../simulators/config.ts'
import { CommissionConfigSchema } from '../reports/commission.ts'
import { AlertsConfigSchema, validateAlertsConfig } from '../alerts/rules.ts'
import { checkMqttCredentials } from './credentials.ts'
import { ReferenceConfigSchema } from '../analytics/reference/config.ts'
import { UploadConfigSchema } from '../upload/config.ts'
import { absoluteReferenceFiles, loadReferenceData, withReferenceFileProblems } from './reference.ts'

/**
 * The one config file every `plantwatt` command reads: each command takes the sections it needs,
 * so one file can describe a whole single-plant installation or just one component.
 */
export const PlantWattConfigSchema = Type.Object(
  {
    plant: Type.Optional(PlantModelSchema),
    mqtt: Type.Optional(MqttSectionSchema),
    storage: Type.Optional(StoreConfigSchema),
    broker: Type.Optional(BrokerConfigSchema),
    ingest: Type.Optional(IngestConfigSchema),
    edge: Type.Optional(EdgeConfigSchema),
    api: Type.Optional(ApiConfigSchema),
    sim: Type.Optional(SimConfigSchema),
    commission: Type.Optional(CommissionConfigSchema),
    alerts: Type.Optional(AlertsConfigSchema),
    reference: Type.Optional(ReferenceConfigSchema),
    upload: Type.Optional(UploadConfigSchema),
  },
  { additionalProperties: false },
)

export type PlantWattConfig = Type.Static<typeof PlantWattConfigSchema>

/** Every section present, defaults filled: what the commands work with. */
export type ResolvedConfig = Readonly<Required<PlantWattConfig>>

const SECTIONS = ['plant', 'mqtt', 'storage', 'broker', 'ingest', 'edge', 'api', 'sim', 'commission', 'alerts', 'reference', 'upload'] as const

/**
 * Reads a config file (or none: all defaults), validates it whole — every problem in every section
 * reported at once — and returns it with every section filled with its defaults.
 */
export function loadPlantWattConfig(file: string | undefined): ResolvedConfig {
  let raw: unknown = {}
  if (file !== undefined) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (cause) {
      throw new PlantWattError('CORE_ERR_CONFIG', `${file}: cannot read config file (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause })
    }
    raw = parseConfigText(text, file)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PlantWattError('CORE_ERR_CONFIG', `${file ?? 'config'}: the top level must be a mapping of sections (${SECTIONS.join(', ')})`)
  }
  const filled: Record<string, unknown> = { storage: { backend: 'embedded' } }
  for (const s of SECTIONS) if (!(s in filled)) filled[s] = {}
  Object.assign(filled, raw)
  absoluteReferenceFiles(filled, file)
  let cfg: ResolvedConfig
  try {
    cfg = validateConfig(PlantWattConfigSchema, filled, file ?? 'config') as ResolvedConfig
  } catch (err) {
    throw withReferenceFileProblems(err, filled.reference, file)
  }
  // Rule-level checks the schema cannot express (keys per rule kind, duplicate ids): all reported at once.
  validateAlertsConfig(cfg.alerts, `${file ?? 'config'}: alerts`)
  checkMqttCredentials(cfg.mqtt, file ?? 'config')
  // Reference files read and every table merged and checked once, here (cached for the commands).
  loadReferenceData(cfg.reference, file)
  return cfg
}
