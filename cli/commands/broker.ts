import type { Command } from 'commander'
import { createLogger } from '../../core/logger.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, override, portOption, type CommonOptions } from '../options.ts'
import { readPassword } from '../password.ts'
import { addMetricsOptions, type MetricsCliOptions, withMetrics } from '../metrics-server.ts'
import { runUntilSignal } from '../run-until-signal.ts'

interface BrokerOptions extends CommonOptions, MetricsCliOptions {
  port?: number
  host?: string
}

/** The broker's actions besides running: none, or `passwd`. */
export function checkBrokerAction(action: string | undefined): 'run' | 'passwd' {
  if (action === undefined) return 'run'
  if (action === 'passwd') return action
  throw new Error(`unknown broker action ${JSON.stringify(action)} (expected passwd)`)
}

/** `plantwatt broker passwd`: the scrypt hash of a password for broker.users[].passwordHash. */
async function printPasswordHash(): Promise<void> {
  const { hashPassword } = await import('../../broker/index.ts')
  const password = await readPassword()
  if (password.length < 8) throw new Error('password must have at least 8 characters')
  process.stdout.write(`${await hashPassword(password)}\n`)
}

async function runBroker(opts: BrokerOptions): Promise<void> {
  const logger = createLogger('broker')
  const cfg = loadConfig(opts)
  const { startBroker } = await import('../../broker/index.ts')
  const broker = await startBroker(override(cfg.broker, { port: opts.port, host: opts.host }), { logger })
  const urls = [broker.url, broker.tlsUrl, broker.wsUrl].filter((u): u is string => typeof u === 'string')
  process.stdout.write(`broker listening on ${urls.join(', ')}\n`)
  const closables = await withMetrics(opts, () => ({ broker: broker.stats() }), logger, [{ name: 'broker', close: () => broker.close() }])
  runUntilSignal(closables, logger)
}

/** `plantwatt broker [passwd]`: the MQTT broker alone, or a password hash for its users. */
export function registerBrokerCommand(program: Command): void {
  const command = program
    .command('broker')
    .description("run the MQTT broker (Aedes) alone; 'plantwatt broker passwd' hashes a password for broker.users")
    .argument('[action]', "'passwd': read a password (prompt or stdin) and print its scrypt hash for broker.users[].passwordHash")
    .option('-c, --config <file>', 'YAML config file')
    .addOption(portOption('port', 'MQTT port'))
    .option('--host <address>', 'address to listen on')
    .addHelpText('after', configHelp(['broker']))
    .action((action: string | undefined, opts: BrokerOptions) => (checkBrokerAction(action) === 'passwd' ? printPasswordHash() : runBroker(opts)))
  addMetricsOptions(command)
}
