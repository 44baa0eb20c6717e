import { type Command, Option } from 'commander'
import { loadConfig } from '../load-config.ts'
import type { CommonOptions } from '../options.ts'

interface ReplayFlags extends CommonOptions {
  from: string
  to: string
  learnUntil?: string
  relearn: 'live' | 'once'
  json?: boolean
  write?: boolean
  device?: string[]
}

async function runReplay(flags: ReplayFlags): Promise<void> {
  const cfg = loadConfig(flags)
  const { createStore } = await import('../../storage/index.ts')
  const { openEventLog } = await import('../../storage/events.ts')
  const { RECOMMENDED_RULES, validateAlertsConfig } = await import('../../alerts/index.ts')
  const { formatReplayTable, parseReplayInstant, replayAlerts } = await import('../../alerts/replay.ts')
  const tz = cfg.plant.timezone
  // As the alert service of `plantwatt up`: the configured rules, the recommended set when none is configured.
  const rulesBasis = cfg.alerts.rules.length > 0 ? 'configured' : 'recommended'
  const { rules } = validateAlertsConfig({ rules: rulesBasis === 'configured' ? cfg.alerts.rules : RECOMMENDED_RULES }, 'alerts')
  const from = parseReplayInstant(flags.from, tz, '--from')
  const to = parseReplayInstant(flags.to, tz, '--to')
  const store = await createStore(cfg.storage)
  // Always opened: the recorded meter events explain counter drops as live; written to only with --write.
  const events = await openEventLog(cfg.storage)
  try {
    const r = await replayAlerts({
      store,
      plant: cfg.plant,
      rules,
      from,
      to,
      ...(flags.learnUntil ? { learnUntil: parseReplayInstant(flags.learnUntil, tz, '--learn-until') } : {}),
      relearn: flags.relearn,
      ...(flags.device && flags.device.length > 0 ? { filter: { device: flags.device } } : {}),
      events,
      ...(flags.write ? { write: true } : {}),
      // Errors name the flags the user typed, not the API's fields.
      names: { from: '--from', to: '--to', learnUntil: '--learn-until', device: '--device' },
    })
    process.stdout.write(flags.json ? `${JSON.stringify({ rulesBasis, ...r }, null, 2)}\n` : `rules: ${rulesBasis}\n${formatReplayTable(r)}`)
  } finally {
    await store.close()
    await events.close()
  }
}

/** `plantwatt alerts replay`: the configured rules over stored history (a backtest); nothing written unless --write. */
export function registerAlertsReplay(alerts: Command): void {
  alerts
    .command('replay')
    .description('backtest: run the configured rules and the anomaly detector over stored history and list the alerts that would have fired')
    .option('-c, --config <file>', 'YAML config file (sections storage, plant, alerts)')
    .requiredOption('--from <time>', 'start of the replayed range: YYYY-MM-DD[ HH:MM] in the plant zone, or ISO 8601 with offset')
    .requiredOption('--to <time>', 'end of the replayed range (exclusive)')
    .option(
      '--learn-until <time>',
      'baselines learn from the history before this (default --from); with --relearn live only the first learning: the later ones read all history before their day',
    )
    .addOption(
      new Option(
        '--relearn <mode>',
        'live: learn the baselines again every relearnEvery of the rules (1 day), each time from the history before then, as the alert service does; once: only at --learn-until',
      )
        .choices(['live', 'once'])
        .default('live'),
    )
    .option('--device <id...>', 'only these device ids')
    .option('--json', 'print the result as JSON (every alert, per-rule counts, alerts per device-week)')
    .option('--write', 'append the transitions to the event log (default: nothing is written)')
    // `-c` is also an option of `alerts` itself: commander may hand it to the parent.
    .action((flags: ReplayFlags, cmd: Command) => runReplay({ ...(cmd.parent?.opts() as CommonOptions), ...flags }))
}
