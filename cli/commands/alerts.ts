import type { Command } from 'commander'
import { createLogger } from '../../core/logger.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, type CommonOptions } from '../options.ts'
import { runUntilSignal } from '../run-until-signal.ts'
import { registerAlertsReplay } from './alerts-replay.ts'

async function runAlerts(opts: CommonOptions): Promise<void> {
  const logger = createLogger('alerts')
  const cfg = loadConfig(opts)
  const { createStore } = await import('../../storage/index.ts')
  const { openEventLog } = await import('../../storage/events.ts')
  const { startAlertService, RECOMMENDED_RULES } = await import('../../alerts/index.ts')
  const { clientId } = await import('../wiring.ts')
  const { resolveComponentClients } = await import('../credentials.ts')
  const mqtt = resolveComponentClients(cfg.mqtt).alerts
  const store = await createStore(cfg.storage)
  const events = await openEventLog(cfg.storage)
  const rules = cfg.alerts.rules.length > 0 ? cfg.alerts.rules : RECOMMENDED_RULES
  const service = await startAlertService({
    mqtt: { ...mqtt, clientId: mqtt.clientId ?? clientId('alerts') },
    store,
    events,
    plant: cfg.plant,
    rules,
    webhooks: cfg.alerts.webhooks,
    channels: cfg.alerts.channels,
    escalation: cfg.alerts.escalation,
    settings: { pollEventsMs: cfg.alerts.pollEventsMs, tickMs: cfg.alerts.tickMs, restoreLookback: cfg.alerts.restoreLookback },
    logger,
  })
  process.stdout.write(
    `alert service: ${rules.length} rule(s)${cfg.alerts.rules.length === 0 ? ' (the recommended set)' : ''}, subscribed at ${cfg.mqtt.url}, events in ${cfg.storage.backend}; storage faults from ingest's state (pw/sys/ingest/+) raise storage-fault alerts\n`,
  )
  runUntilSignal(
    [
      { name: 'store', close: () => store.close() },
      { name: 'event log', close: () => events.close() },
      { name: 'alerts', close: () => service.close() },
    ],
    logger,
  )
}

/** `plantwatt alerts`: the alert service alone (rules on the live stream, events in the store). */
export function registerAlertsCommand(program: Command): void {
  const alerts = program
    .command('alerts')
    .description('run the alert service: rules and the anomaly detector on the live data, events in the store, MQTT/webhook notifications')
    .option('-c, --config <file>', 'YAML config file (sections mqtt, storage, plant, alerts)')
    .addHelpText('after', configHelp(['mqtt', 'storage', 'plant', 'alerts']))
    .action(runAlerts)
  registerAlertsReplay(alerts)
}
