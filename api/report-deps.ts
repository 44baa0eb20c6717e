import { reportReadersOf } from '../records/index.ts'
import type { ReportDeps } from '../reports/energy.ts'
import type { ApiContext } from './context.ts'

const made = new WeakMap<ApiContext, ReportDeps & { events: ApiContext['events'] }>()

/**
 * What every report route of this process reads, the same for all of them: the store, the plant
 * model, the clock, the counter roll-up, the reference data with the config's overrides, the
 * audited entries (coal weighbridge, deliveries, ERP production) and the recorded meter events of
 * the event log, and the event log itself (alert counts of the commission view). One per context.
 */
export function reportDepsOf(ctx: ApiContext): ReportDeps & { events: ApiContext['events'] } {
  let deps = made.get(ctx)
  if (!deps) {
    deps = {
      store: ctx.store,
      model: ctx.model,
      now: ctx.now,
      rollup: ctx.rollup,
      ...(ctx.reference ? { reference: ctx.reference } : {}),
      ...reportReadersOf(ctx.events),
      events: ctx.events,
    }
    made.set(ctx, deps)
  }
  return deps
}
