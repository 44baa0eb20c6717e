import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { PlantModel } from '../core/plant.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { learnBaselines, type BaselineBook } from './baseline.ts'
import type { AlertEngine } from './engine.ts'
import type { ResolvedRule } from './rules.ts'

export interface BaselineLearnerOptions {
  engine: Pick<AlertEngine, 'setBaselines' | 'baselineBook'>
  store: TelemetryStore
  plant: PlantModel
  rules: readonly ResolvedRule[]
  /** Clock, epoch ms. */
  now: () => number
  logger: Logger
  /** Default alerts/baseline.ts learnBaselines. */
  learn?: typeof learnBaselines
}

/** How often the baselines are learned again: the shortest `relearnEvery` of the anomaly and standby rules (Infinity: none). */
export function relearnEveryMs(rules: readonly ResolvedRule[]): number {
  return Math.min(...rules.filter((r) => r.kind === 'anomaly' || r.kind === 'standby').map((r) => r.relearnEveryMs), Infinity)
}

/**
 * The anomaly and standby baselines of the engine: learned from the store at start, again every
 * `relearnEvery` of those rules (the shortest), and on demand (a `baseline_revision` event). A
 * failed learning keeps the previous baselines. Without anomaly or standby rules it does nothing.
 */
export class BaselineLearner {
  /** Epoch ms of the last successful learning; null before. */
  learnedAt: number | null = null
  private timer: NodeJS.Timeout | undefined
  private readonly baselineRules: readonly ResolvedRule[]

  constructor(private readonly o: BaselineLearnerOptions) {
    this.baselineRules = o.rules.filter((r) => r.kind === 'anomaly' || r.kind === 'standby')
  }

  async relearn(): Promise<void> {
    if (this.baselineRules.length === 0) return
    const { o } = this
    const t = o.now()
    try {
      const book: BaselineBook = await (o.learn ?? learnBaselines)({ store: o.store, plant: o.plant, rules: o.rules, now: t })
      o.engine.setBaselines(book)
      this.learnedAt = t
      o.logger.info({ baselines: o.engine.baselineBook.anomaly.size }, 'baselines learned')
      for (const warning of book.warnings ?? []) o.logger.warn({ warning }, warning)
    } catch (err) {
      o.logger.warn({ err: describeError(err) }, 'learning baselines failed; keeping the previous ones')
    }
  }

  /** Re-learns every shortest `relearnEvery` of the baseline rules (none: no timer). */
  start(): void {
    const everyMs = relearnEveryMs(this.baselineRules)
    if (Number.isFinite(everyMs) && everyMs > 0) this.timer = setInterval(() => void this.relearn(), everyMs)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
