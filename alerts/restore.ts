import { describeError, PlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { EventLog } from '../storage/events.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'
import type { AlertEngine } from './engine.ts'
import { loadAlerts } from './events.ts'

/**
 * Rebuilds the alerts still open (firing or acknowledged) from the event log's events in the range.
 * A log that cannot be read is fatal (ALERTS_ERR_RESTORE): alerts would otherwise open twice.
 */
export async function restoreOpenAlerts(
  engine: Pick<AlertEngine, 'restore' | 'openAlerts'>,
  events: EventLog,
  range: { start: number; stop: number },
  logger: Logger,
): Promise<void> {
  try {
    const alerts = await loadAlerts(events, range)
    engine.restore(alerts.filter((a) => a.state !== 'resolved'))
    logger.info({ restored: engine.openAlerts().length }, 'open alerts rebuilt from the event log')
  } catch (cause) {
    throw new PlantWattError('ALERTS_ERR_RESTORE', `cannot rebuild open alerts from the event log: ${describeError(cause)}`, { cause })
  }
}

/** Samples read back per device for its reporting interval (GAP_MEMORY + 1 of the engine). */
const INTERVAL_SAMPLES = 16
/** Where those samples are looked for before the newest one: a 1 s or 1 min device, then anything up to 15 min. */
const INTERVAL_LOOKBACKS_MS = [10 * MINUTE_MS, 6 * HOUR_MS]
/** Devices whose recent samples are read at once. */
const PARALLEL_READS = 8

/**
 * Each device's newest point in the store since `since` as its "last seen", with the gaps between
 * its latest stored samples as its reporting interval, so offline detection carries across restarts
 * at the device's own pace (a dead 1 s device alerts after `missed` × `interval`, not × 15 min). A
 * store that cannot be read only delays it to the first sample (logged).
 */
export async function restoreLastSeen(engine: Pick<AlertEngine, 'seen'>, store: TelemetryStore, since: number, logger: Logger): Promise<void> {
  let rows: Awaited<ReturnType<TelemetryStore['latest']>>
  try {
    rows = await store.latest({ measurement: TELEMETRY_MEASUREMENT, fields: ['seq'], since })
  } catch (err) {
    logger.warn({ err: describeError(err) }, 'cannot read last-seen times from the store; offline detection starts with the first sample')
    return
  }
  const devices = rows.flatMap((row) => {
    const t = row.tags
    return t.enterprise && t.site && t.line && t.device
      ? [{ address: { enterprise: t.enterprise, site: t.site, line: t.line, device: t.device }, ts: row.ts }]
      : []
  })
  let unread = 0
  // A few devices at a time: one or two small reads each.
  for (let i = 0; i < devices.length; i += PARALLEL_READS) {
    const batch = devices.slice(i, i + PARALLEL_READS)
    const gaps = await Promise.all(
      batch.map((d) =>
        recentGaps(store, d.address, d.ts).catch((): number[] => {
          unread++
          return []
        }),
      ),
    )
    for (const [j, d] of batch.entries()) engine.seen(d.address, d.ts, gaps[j])
  }
  if (unread > 0) logger.warn({ devices: unread }, 'cannot read recent samples from the store; their reporting interval is learned from the next samples')
}

/** Gaps between the device's stored samples just before `newest` (contiguous, oldest first; empty when it has one). */
async function recentGaps(store: TelemetryStore, address: Record<string, string>, newest: number): Promise<number[]> {
  for (const lookback of INTERVAL_LOOKBACKS_MS) {
    const rows = await store.raw({
      measurement: TELEMETRY_MEASUREMENT,
      fields: ['seq'],
      filter: address,
      start: newest - lookback,
      stop: newest + 1,
      limit: INTERVAL_SAMPLES,
    })
    if (rows.length >= 2) return rows.slice(1).map((r, i) => r.ts - (rows[i] as (typeof rows)[number]).ts)
  }
  return []
}
