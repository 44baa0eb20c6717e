import type { DeadLetterLog } from '../core/dead-letter.ts'
import type { TelemetryStore } from '../storage/store.ts'
import type { ApiConfig } from './config.ts'
import type { PlantIndex } from './plant-index.ts'

/** What every route plugin is given: injected, never imported from module scope. */
export interface ApiContext {
  store: TelemetryStore
  plant: PlantIndex
  config: Readonly<ApiConfig>
  deadLetters: DeadLetterLog | undefined
  status: (() => Record<string, unknown>) | undefined
  /** Clock, epoch ms. */
  now: () => number
}

/** Options of every route plugin. */
export interface RouteOptions {
  ctx: ApiContext
}
