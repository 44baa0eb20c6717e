import type { DeadLetterLog } from '../core/dead-letter.ts'
import type { PlantModel } from '../core/plant.ts'
import type { EventLog } from '../storage/events.ts'
import type { TelemetryStore } from '../storage/store.ts'
import type { CommissionConfigInput } from '../reports/commission.ts'
import type { ApiConfig } from './config.ts'
import type { StreamHub } from './hub.ts'
import type { CounterRollup } from '../reports/counter-rollup.ts'
import type { PlantIndex } from './plant-index.ts'
import type { ReferenceData } from '../analytics/index.ts'
import type { UploadStatus } from '../upload/status.ts'

/** What every route plugin is given: injected, never imported from module scope. */
export interface ApiContext {
  store: TelemetryStore
  plant: PlantIndex
  /** The plant model as configured (empty when none was given). */
  model: PlantModel
  /** Alert transitions, baseline revisions, imports; a MemoryEventLog when none was given. */
  events: EventLog
  config: Readonly<ApiConfig>
  deadLetters: DeadLetterLog | undefined
  status: (() => Record<string, unknown>) | undefined
  /** Clock, epoch ms. */
  now: () => number
  /** Events pushed to the live streams (GET /api/v1/stream) by other parts of the process; build() always sets one. */
  hub?: StreamHub | undefined
  /** The counter roll-up reports read closed quarter hours from (one per process; reports/counter-rollup.ts). */
  rollup: CounterRollup
  /** Commission scope config as given (the commission routes resolve defaults); undefined = defaults. */
  commission?: CommissionConfigInput | undefined
  /** Reference data (tariffs, grid factors, coal, benchmarks) with the config's `reference:` overrides; undefined = as shipped. */
  reference?: ReferenceData | undefined
  /** The uploaders of this process (upload/status.ts UploadsBook), for GET /uploads; undefined = none. */
  uploads?: UploadsSource | undefined
  /** The configured alert rules (`alerts.rules` as in the config file, the ones the alert service runs); undefined or [] = none configured. */
  alertRules?: readonly unknown[] | undefined
}

/** What the plant API reads of its uploaders (upload/status.ts UploadsBook, registered by cli/). */
export interface UploadsSource {
  enterprises(): string[]
  status(enterprise: string, limit: number): UploadStatus | undefined
}

/** Options of every route plugin. */
export interface RouteOptions {
  ctx: ApiContext
}
