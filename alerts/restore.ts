import { describeError, PlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { EventLog } from '../storage/events.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
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

/**
 * Each device's newest point in the store since `since` as its "last seen", so offline detection
 * carries across restarts. A store that cannot be read only delays it to the first sample (logged).
 */
export async function restoreLastSeen(engine: Pick<AlertEngine, 'seen'>, store: TelemetryStore, since: number, logger: Logger): Promise<void> {
  try {
    for (const row of await store.latest({ measurement: TELEMETRY_MEASUREMENT, fields: ['seq'], since })) {
      const t = row.tags
      if (t.enterprise && t.site && t.line && t.device) engine.seen({ enterprise: t.enterprise, site: t.site, line: t.line, device: t.device }, row.ts)
    }
  } catch (err) {
    logger.warn({ err: describeError(err) }, 'cannot read last-seen times from the store; offline detection starts with the first sample')
  }
}
