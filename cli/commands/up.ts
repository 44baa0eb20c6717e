import type { Command } from 'commander'
import { createLogger } from '../../core/logger.ts'
import type { ResolvedConfig } from '../config.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, DEMO_CONFIG, override, PACKAGE_VERSION, portOption, type CommonOptions } from '../options.ts'
import { createProgress } from '../progress.ts'
import { runUntilSignal } from '../run-until-signal.ts'
import type { StartAllOptions, UpResult } from '../wiring.ts'

interface UpOptions extends CommonOptions {
  apiPort?: number
  brokerPort?: number
  storePath?: string
  scenario?: string
  groundTruth?: string
  controlPort?: number
  opcuaDir: string
  opcua: boolean
  historyDays: string
}

/** `--history-days`: a whole number of days from 0 to 366. */
export function parseHistoryDays(text: string): number {
  const days = Number(text)
  if (!(Number.isInteger(days) && days >= 0 && days <= 366)) throw new Error(`--history-days must be a whole number of days from 0 to 366, got ${text}`)
  return days
}

/** The file's config with the ports and store file given on the command line. */
export function upConfig(file: ResolvedConfig, opts: Pick<UpOptions, 'apiPort' | 'brokerPort' | 'storePath'>): ResolvedConfig {
  return {
    ...file,
    api: override(file.api, { port: opts.apiPort }),
    broker: override(file.broker, { port: opts.brokerPort }),
    storage: file.storage.backend === 'embedded' && opts.storePath ? { ...file.storage, path: opts.storePath } : file.storage,
  }
}

/** What `plantwatt up` prints once everything runs: where each part can be reached. */
export function upBanner(
  cfg: ResolvedConfig,
  up: Pick<UpResult, 'apiUrl' | 'brokerUrl' | 'simulators' | 'scenario'>,
  extra: { scenarioName?: string; controlUrl?: string },
): string[] {
  const storeText = cfg.storage.backend === 'embedded' ? `embedded store ${cfg.storage.path}` : `InfluxDB ${cfg.storage.url} database ${cfg.storage.database}`
  return [
    `PlantWatt ${PACKAGE_VERSION} is running in one process (${storeText}${extra.scenarioName ? `, scenario ${extra.scenarioName}` : ''})`,
    `  Web UI        ${up.apiUrl}/`,
    `  Live values   ${up.apiUrl}/api/v1/live`,
    `  API docs      ${up.apiUrl}/docs`,
    `  Health        ${up.apiUrl}/api/v1/health`,
    `  MQTT broker   ${up.brokerUrl}`,
    ...(extra.controlUrl ? [`  Fault control ${extra.controlUrl}/faults`] : []),
    ...(up.scenario?.opcua ?? []).map((o) => `  OPC UA        ${o.endpointUrl} (${o.machines.map((m) => m.address.device).join(', ')})`),
    ...(up.simulators.length > 12
      ? [
          `  Simulators    ${up.simulators.length} meters on ${new Set(up.simulators.map((s) => s.port)).size} Modbus TCP ports (plantwatt sim --scenario … lists them)`,
        ]
      : up.simulators.map((s) => `  Simulator     ${s.id.padEnd(14)} modbus-tcp://${s.host}:${s.port} unit ${s.unitId} (${s.profile})`)),
    'Press Ctrl-C to stop.',
  ]
}

async function up(opts: UpOptions): Promise<void> {
  const historyDays = parseHistoryDays(opts.historyDays)
  const logger = createLogger('plantwatt', process.env.PLANTWATT_LOG_LEVEL ?? 'warn')
  const cfg = upConfig(loadConfig(opts), opts)
  if (opts.scenario && opts.opcua !== false) {
    // node-opcua prints warnings to the console as soon as it loads (e.g. NODE-OPCUA-W27 about RSA
    // PKCS#1 v1.5, which the Basic256Sha256 policy PlantWatt uses does not need): route them to the log first.
    ;(await import('../../edge-agent/opcua/library-log.ts')).routeOpcuaLibraryLog(logger)
  }
  const { startAll } = await import('../wiring.ts')
  const scenario = opts.scenario ? (await import('../../simulators/index.ts')).loadScenario(opts.scenario) : undefined
  const withHistory = scenario !== undefined && historyDays > 0
  const progress = createProgress(process.stderr)
  const options: StartAllOptions = {
    ...(scenario ? { scenario } : {}),
    ...(opts.groundTruth ? { groundTruthFile: opts.groundTruth } : {}),
    ...(scenario && opts.opcua !== false ? { opcuaDir: opts.opcuaDir } : {}),
    ...(withHistory
      ? {
          historyDays,
          onHistoryProgress: (n: number) => progress.update(`writing ${historyDays} days of simulated history (first start only): ${n} points`),
        }
      : {}),
  }
  const running = await startAll(cfg, logger, options)
  if (withHistory) progress.done()
  let controlUrl: string | undefined
  if (running.scenario && opts.controlPort !== undefined) {
    const { startFaultControl } = await import('../../simulators/control.ts')
    const control = await startFaultControl(running.scenario, { port: opts.controlPort })
    running.closables.push({ name: 'fault control', close: () => control.close() })
    controlUrl = control.url
  }
  // the province tier: with a scenario a demo province fed by every enterprise's uploader, else upload.enabled
  const tier = await (await import('./province.ts')).startUploadTier(cfg, running, { ...(scenario ? { scenario } : {}), historyDays, logger })
  running.closables.push(...tier.closables)
  const banner = upBanner(cfg, running, { ...(scenario ? { scenarioName: scenario.name } : {}), ...(controlUrl ? { controlUrl } : {}) })
  banner.splice(-1, 0, ...tier.lines)
  process.stdout.write(banner.join('\n') + '\n')
  runUntilSignal(running.closables, logger)
}

/** `plantwatt up`: the whole system in one process (cli/wiring.ts startAll). */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('run the whole system in one process: simulators, edge agent, broker, ingest and API on the embedded store')
    .option('-c, --config <file>', 'YAML config file', DEMO_CONFIG)
    .addOption(portOption('api-port', 'HTTP port of the API and web UI'))
    .addOption(portOption('broker-port', 'MQTT port of the broker'))
    .option('--store-path <file>', 'embedded store file (overrides storage.path)')
    .option('--scenario <name|file>', "run a plant scenario (shipped: hubei) instead of the config's sim meters; its plant model replaces plant")
    .option('--ground-truth <file>', "with --scenario: append the scenario's injected faults here (JSONL)")
    .addOption(portOption('control-port', 'with --scenario: HTTP endpoint to inject and end faults (GET/POST /faults, DELETE /faults/<id>)'))
    .option('--opcua-dir <dir>', "with --scenario: folder for the OPC UA machines' certificates and generated profiles", './data/opcua')
    .option('--no-opcua', "with --scenario: don't serve and poll the OPC UA machines")
    .option(
      '--history-days <n>',
      'with --scenario: days of simulated history in the store before the live run (only what is missing; 0 = none). The default is the one `npm start` uses: the anomaly rules learn their time-of-week model from two weeks, the monthly reports get a whole month',
      '35',
    )
    .addHelpText('after', configHelp(['plant', 'mqtt', 'storage', 'broker', 'ingest', 'edge', 'api', 'sim']))
    .action(up)
}
