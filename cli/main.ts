import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, Option } from 'commander'
import { stringify as toYaml } from 'yaml'
import type { TSchema } from 'typebox'
import { describeSchema } from '../core/config.ts'
import { describeError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { MqttSectionSchema } from '../core/mqtt.ts'
import { StoreConfigSchema } from '../storage/config.ts'
import { BrokerConfigSchema } from '../broker/config.ts'
import { IngestConfigSchema } from '../ingest/config.ts'
import { EdgeConfigSchema } from '../edge-agent/config.ts'
import { ApiConfigSchema } from '../api/config.ts'
import { SimConfigSchema } from '../simulators/config.ts'
import { loadPlantWattConfig, type ResolvedConfig } from './config.ts'
import type { Closable } from './wiring.ts'

// Components are imported when a command runs, so `--help` and `check` start fast and a command
// loads only what it runs.
const wiring = () => import('./wiring.ts')

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
const DEMO_CONFIG = join(root, 'examples', 'demo.yaml')

const SECTION_SCHEMAS: Record<string, TSchema> = {
  plant: PlantModelSchema,
  mqtt: MqttSectionSchema,
  storage: StoreConfigSchema,
  broker: BrokerConfigSchema,
  ingest: IngestConfigSchema,
  edge: EdgeConfigSchema,
  api: ApiConfigSchema,
  sim: SimConfigSchema,
}

/** `--help` text listing every config key of the sections a command reads, from the schemas. */
function configHelp(sections: string[]): string {
  const lines = ['', 'Config file keys this command reads (YAML; every key optional unless a default is missing):']
  for (const s of sections) {
    const schema = SECTION_SCHEMAS[s]
    if (schema) lines.push(...describeSchema(schema, s))
  }
  lines.push('', 'Environment: PLANTWATT_LOG_LEVEL (default warn for up, info otherwise), PLANTWATT_MQTT_PASSWORD,', '  PLANTWATT_INFLUX_TOKEN, PLANTWATT_INFLUX_PASSWORD override the secrets of the file.')
  return lines.join('\n')
}

interface CommonOptions {
  config?: string
}

function portOption(name: string, what: string): Option {
  return new Option(`--${name} <port>`, `${what} (0 = any free port)`).argParser((v) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number 0-65535, got ${v}`)
    return n
  })
}

/** Secrets from the environment win over the file, so that files can be committed without them. */
function withSecretsFromEnv(cfg: ResolvedConfig): ResolvedConfig {
  const env = process.env
  const out = structuredClone(cfg) as { -readonly [K in keyof ResolvedConfig]: ResolvedConfig[K] }
  if (env.PLANTWATT_MQTT_PASSWORD) out.mqtt = { ...out.mqtt, password: env.PLANTWATT_MQTT_PASSWORD }
  if (out.storage.backend === 'influxdb') {
    if (env.PLANTWATT_INFLUX_TOKEN) out.storage = { ...out.storage, token: env.PLANTWATT_INFLUX_TOKEN }
    if (env.PLANTWATT_INFLUX_PASSWORD) out.storage = { ...out.storage, password: env.PLANTWATT_INFLUX_PASSWORD }
  }
  return out
}

function load(opts: CommonOptions, fallback?: string): ResolvedConfig {
  return withSecretsFromEnv(loadPlantWattConfig(opts.config ?? fallback))
}

/** Keeps the process up until SIGINT/SIGTERM, then stops everything in reverse order. */
function runUntilSignal(closables: Closable[], logger: Logger): void {
  const closeAll = async (list: readonly Closable[], log: Logger) => (await wiring()).closeAll(list, log)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`\n${signal}: stopping…\n`)
    const force = setTimeout(() => {
      process.stderr.write('did not stop within 10 s; exiting\n')
      process.exit(1)
    }, 10_000)
    force.unref()
    void closeAll(closables, logger).then(() => {
      process.stdout.write('stopped.\n')
      process.exit(0)
    })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

/** A password from the terminal (not echoed) or from standard input (first line). */
async function readPassword(): Promise<string> {
  const stdin = process.stdin
  if (!stdin.isTTY) {
    let text = ''
    for await (const chunk of stdin) text += String(chunk)
    return text.split(/\r?\n/)[0] ?? ''
  }
  process.stderr.write('Password: ')
  stdin.setRawMode(true)
  stdin.resume()
  return new Promise((resolve, reject) => {
    let value = ''
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.off('data', onData)
          stdin.setRawMode(false)
          stdin.pause()
          process.stderr.write('\n')
          resolve(value)
          return
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false)
          reject(new Error('cancelled'))
          return
        }
        value = ch === '\u007f' ? value.slice(0, -1) : value + ch
      }
    }
    stdin.on('data', onData)
  })
}

function override<T extends object>(section: T, patch: Partial<T>): T {
  const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined))
  return { ...section, ...defined }
}

const program = new Command('plantwatt')
  .description('PlantWatt: industrial energy monitoring — edge agents, MQTT broker, ingest, storage and API')
  .version(pkg.version)
  .showHelpAfterError()

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
  .option('--history-days <n>', 'with --scenario: days of simulated history in the store before the live run (only what is missing; 0 = none)', '7')
  .addHelpText('after', configHelp(['plant', 'mqtt', 'storage', 'broker', 'ingest', 'edge', 'api', 'sim']))
  .action(async (opts: CommonOptions & { apiPort?: number; brokerPort?: number; storePath?: string; scenario?: string; groundTruth?: string; controlPort?: number; opcuaDir: string; opcua: boolean; historyDays: string }) => {
    const historyDays = Number(opts.historyDays)
    if (!(Number.isInteger(historyDays) && historyDays >= 0 && historyDays <= 366)) throw new Error(`--history-days must be a whole number of days from 0 to 366, got ${opts.historyDays}`)
    const logger = createLogger('plantwatt', process.env.PLANTWATT_LOG_LEVEL ?? 'warn')
    const file = load(opts)
    const cfg: ResolvedConfig = {
      ...file,
      api: override(file.api, { port: opts.apiPort }),
      broker: override(file.broker, { port: opts.brokerPort }),
      storage: file.storage.backend === 'embedded' && opts.storePath ? { ...file.storage, path: opts.storePath } : file.storage,
    }
    const { startAll } = await wiring()
    const scenario = opts.scenario ? (await import('../simulators/index.ts')).loadScenario(opts.scenario) : undefined
    const up = await startAll(cfg, logger, {
      ...(scenario ? { scenario } : {}),
      ...(opts.groundTruth ? { groundTruthFile: opts.groundTruth } : {}),
      ...(scenario && opts.opcua !== false ? { opcuaDir: opts.opcuaDir } : {}),
      ...(scenario && historyDays > 0 ? { historyDays } : {}),
      ...(scenario && historyDays > 0 ? { onHistoryProgress: (n: number) => process.stderr.write(`\rwriting ${historyDays} days of simulated history (first start only): ${n} points`) } : {}),
    })
    if (scenario && historyDays > 0) process.stderr.write('\n')
    let controlUrl: string | undefined
    if (up.scenario && opts.controlPort !== undefined) {
      const { startFaultControl } = await import('../simulators/control.ts')
      const control = await startFaultControl(up.scenario, { port: opts.controlPort })
      up.closables.push({ name: 'fault control', close: () => control.close() })
      controlUrl = control.url
    }
    const storeText = cfg.storage.backend === 'embedded' ? `embedded store ${cfg.storage.path}` : `InfluxDB ${cfg.storage.url} database ${cfg.storage.database}`
    const lines = [
      `PlantWatt ${pkg.version} is running in one process (${storeText}${scenario ? `, scenario ${scenario.name}` : ''})`,
      `  Web UI        ${up.apiUrl}/`,
      `  Live values   ${up.apiUrl}/api/v1/live`,
      `  API docs      ${up.apiUrl}/docs`,
      `  Health        ${up.apiUrl}/api/v1/health`,
      `  MQTT broker   ${up.brokerUrl}`,
      ...(controlUrl ? [`  Fault control ${controlUrl}/faults`] : []),
      ...(up.scenario?.opcua ?? []).map((o) => `  OPC UA        ${o.endpointUrl} (${o.machines.map((m) => m.address.device).join(', ')})`),
      ...(up.simulators.length > 12
        ? [`  Simulators    ${up.simulators.length} meters on ${new Set(up.simulators.map((s) => s.port)).size} Modbus TCP ports (plantwatt sim --scenario … lists them)`]
        : up.simulators.map((s) => `  Simulator     ${s.id.padEnd(14)} modbus-tcp://${s.host}:${s.port} unit ${s.unitId} (${s.profile})`)),
      'Press Ctrl-C to stop.',
    ]
    process.stdout.write(lines.join('\n') + '\n')
    runUntilSignal(up.closables, logger)
  })

program
  .command('broker')
  .description("run the MQTT broker (Aedes) alone; 'plantwatt broker passwd' hashes a password for broker.users")
  .argument('[action]', "'passwd': read a password (prompt or stdin) and print its scrypt hash for broker.users[].passwordHash")
  .option('-c, --config <file>', 'YAML config file')
  .addOption(portOption('port', 'MQTT port'))
  .option('--host <address>', 'address to listen on')
  .addHelpText('after', configHelp(['broker']))
  .action(async (action: string | undefined, opts: CommonOptions & { port?: number; host?: string }) => {
    if (action !== undefined && action !== 'passwd') throw new Error(`unknown broker action ${JSON.stringify(action)} (expected passwd)`)
    if (action === 'passwd') {
      const { hashPassword } = await import('../broker/index.ts')
      const password = await readPassword()
      if (password.length < 8) throw new Error('password must have at least 8 characters')
      process.stdout.write(`${await hashPassword(password)}\n`)
      return
    }
    const logger = createLogger('broker')
    const cfg = load(opts)
    const { startBroker } = await import('../broker/index.ts')
    const broker = await startBroker(override(cfg.broker, { port: opts.port, host: opts.host }), { logger })
    const urls = [broker.url, broker.tlsUrl, broker.wsUrl].filter((u): u is string => typeof u === 'string')
    process.stdout.write(`broker listening on ${urls.join(', ')}\n`)
    runUntilSignal([{ name: 'broker', close: () => broker.close() }], logger)
  })

program
  .command('edge')
  .description("run an edge agent: poll the configured devices and publish to the broker; 'plantwatt edge plan' prints the read plan")
  .argument('[action]', "'plan': print each device's coalesced Modbus requests (or OPC UA nodes) and exit")
  .option('-c, --config <file>', 'YAML config file (sections mqtt, edge)')
  .addHelpText('after', configHelp(['mqtt', 'edge']))
  .action(async (action: string | undefined, opts: CommonOptions) => {
    if (action !== undefined && action !== 'plan') throw new Error(`unknown edge action ${JSON.stringify(action)} (expected plan)`)
    const cfg = load(opts)
    if (action === 'plan') {
      const { edgePlan } = await import('../edge-agent/index.ts')
      const plan = edgePlan(cfg.edge)
      process.stdout.write(plan.text + '\n')
      process.exitCode = plan.exitCode
      return
    }
    const logger = createLogger('edge')
    const { edgeClientId } = await wiring()
    const { resolveComponentClients } = await import('./credentials.ts')
    const { startEdgeGateways } = await import('./edge-gateways.ts')
    const gateways = resolveComponentClients(cfg.mqtt).edge
    const edge = await startEdgeGateways(cfg.edge, gateways, logger, (agentId) => edgeClientId(cfg.mqtt.clientId, agentId, gateways.length))
    const agents = Object.values(edge.status())
    const polled = agents.reduce((n, a) => n + a.devices.filter((d) => d.polling).length, 0)
    const notPolled = cfg.edge.devices.length - polled
    const users = agents.length > 1 ? ` as ${agents.length} gateway users (${agents.map((a) => a.mqtt.username ?? 'anonymous').join(', ')})` : ''
    process.stdout.write(`edge agent ${cfg.edge.agentId} polling ${polled} device(s)${notPolled > 0 ? ` (${notPolled} not polled: bad profile, see the log)` : ''}, publishing to ${cfg.mqtt.url}${users}\n`)
    runUntilSignal([{ name: 'edge', close: () => edge.close() }], logger)
  })

program
  .command('ingest')
  .description('run ingest: subscribe to telemetry, validate, batch and write to the store')
  .option('-c, --config <file>', 'YAML config file (sections mqtt, storage, ingest, plant)')
  .addHelpText('after', configHelp(['mqtt', 'storage', 'ingest', 'plant']))
  .action(async (opts: CommonOptions) => {
    const logger = createLogger('ingest')
    const cfg = load(opts)
    const { createStore } = await import('../storage/index.ts')
    const { startIngest } = await import('../ingest/index.ts')
    const { clientId } = await wiring()
    const { resolveComponentClients } = await import('./credentials.ts')
    const mqtt = resolveComponentClients(cfg.mqtt).ingest
    const store = await createStore(cfg.storage)
    const ingest = await startIngest({ config: cfg.ingest, mqtt: { ...mqtt, clientId: mqtt.clientId ?? clientId('ingest') }, store, plant: cfg.plant, logger })
    process.stdout.write(`ingest subscribed at ${cfg.mqtt.url}, writing to ${cfg.storage.backend}\n`)
    runUntilSignal(
      [
        { name: 'store', close: () => store.close() },
        { name: 'ingest', close: () => ingest.close() },
      ],
      logger,
    )
  })

program
  .command('api')
  .description('run the HTTP API and web UI')
  .option('-c, --config <file>', 'YAML config file (sections storage, api, plant; ingest.deadLetterFile for GET /dead-letters)')
  .addOption(portOption('port', 'HTTP port'))
  .addHelpText('after', configHelp(['storage', 'api', 'plant']))
  .action(async (opts: CommonOptions & { port?: number }) => {
    const logger = createLogger('api')
    const cfg = load(opts)
    const { createStore } = await import('../storage/index.ts')
    const { startApi, openDeadLetterFile } = await import('../api/index.ts')
    const store = await createStore(cfg.storage)
    // The dead letters an ingest process appends to ingest.deadLetterFile (same config file).
    const file = cfg.ingest.deadLetterFile
    const deadLetters = file === undefined ? undefined : openDeadLetterFile({ file, memory: cfg.ingest.deadLetterMemory, logger })
    const api = await startApi({ store, plant: cfg.plant, config: override(cfg.api, { port: opts.port }), commission: cfg.commission, logger, ...(deadLetters ? { deadLetters } : {}) })
    process.stdout.write(`API on ${api.url}/ (docs ${api.url}/docs)\n`)
    runUntilSignal(
      [
        { name: 'store', close: () => store.close() },
        { name: 'api', close: () => api.close() },
      ],
      logger,
    )
  })

program
  .command('sim')
  .description('run the simulated devices of the config (sim section) and print their endpoints')
  .option('-c, --config <file>', 'YAML config file (sections sim, plant)', DEMO_CONFIG)
  .option('--edge-config <file>', 'write an edge-agent config (mqtt + edge sections) that reads these simulators')
  .option('--scenario <name|file>', "run a plant scenario (shipped: hubei) instead of the config's sim meters")
  .option('--ground-truth <file>', "with --scenario: append the scenario's injected faults here (JSONL)")
  .addOption(portOption('control-port', 'with --scenario: HTTP endpoint to inject and end faults (GET/POST /faults, DELETE /faults/<id>)'))
  .option('--opcua-pki <dir>', "with --scenario: PKI folder of the machines' OPC UA servers", './data/sim-pki')
  .option('--no-opcua', "with --scenario: don't serve the OPC UA machines")
  .addHelpText('after', configHelp(['sim', 'plant']))
  .action(async (opts: CommonOptions & { edgeConfig?: string; scenario?: string; groundTruth?: string; controlPort?: number; opcuaPki: string; opcua: boolean }) => {
    const logger = createLogger('sim')
    const cfg = load(opts)
    const { startSimulation, startScenario, loadScenario, scenarioPlantModel } = await import('../simulators/index.ts')
    const { edgeConfigWith, edgeDevicesForSimulators, edgeDevicesForScenario } = await wiring()
    if (opts.scenario) {
      const scenario = loadScenario(opts.scenario)
      const run = await startScenario(scenario, {
        ...(opts.groundTruth ? { groundTruthFile: opts.groundTruth } : {}),
        ...(opts.opcua === false ? {} : { opcua: { pkiFolder: opts.opcuaPki } }),
      })
      for (const o of run.opcua) {
        process.stdout.write(`${o.lineKey.padEnd(44)} ${o.endpointUrl} (OPC UA: ${o.machines.map((m) => m.address.device).join(', ')})\n`)
      }
      for (const m of [...run.meters, ...run.plcs]) {
        const role = 'role' in m ? m.role : 'plc'
        const where = m.transport === 'tcp' ? `modbus-tcp://${m.host}:${m.port}` : `modbus-rtu:${m.path}@${m.baudRate}`
        process.stdout.write(`${m.key.padEnd(44)} ${where} unit ${m.unitId} (${m.profile}, ${role})\n`)
      }
      const closables: Closable[] = [{ name: 'scenario', close: () => run.close() }]
      if (opts.controlPort !== undefined) {
        const { startFaultControl } = await import('../simulators/control.ts')
        const control = await startFaultControl(run, { port: opts.controlPort })
        closables.push({ name: 'fault control', close: () => control.close() })
        process.stdout.write(`fault control: GET/POST ${control.url}/faults, DELETE ${control.url}/faults/<id>\n`)
      }
      if (opts.edgeConfig) {
        const edge = edgeConfigWith(cfg.edge, edgeDevicesForScenario(run))
        writeFileSync(opts.edgeConfig, `# written by plantwatt sim --scenario ${scenario.name}\n${toYaml({ mqtt: cfg.mqtt, plant: scenarioPlantModel(scenario), edge })}`)
        process.stdout.write(`edge config written to ${opts.edgeConfig}: run \`plantwatt edge -c ${opts.edgeConfig}\`\n`)
      }
      runUntilSignal(closables, logger)
      return
    }
    const sim = await startSimulation(cfg.sim)
    for (const m of sim.meters) process.stdout.write(`${m.id.padEnd(16)} modbus-tcp://${m.host}:${m.port} unit ${m.unitId} (${m.profile})\n`)
    if (opts.edgeConfig) {
      const endpoints = sim.meters.map((m) => ({ id: m.id, host: m.host, port: m.port, unitId: m.unitId, profile: m.profile }))
      const edge = edgeConfigWith(cfg.edge, edgeDevicesForSimulators(cfg.plant, endpoints))
      writeFileSync(opts.edgeConfig, `# written by plantwatt sim\n${toYaml({ mqtt: cfg.mqtt, edge })}`)
      process.stdout.write(`edge config written to ${opts.edgeConfig}: run \`plantwatt edge -c ${opts.edgeConfig}\`\n`)
    }
    runUntilSignal([{ name: 'simulators', close: () => sim.close() }], logger)
  })

program
  .command('backfill')
  .description("write history of a plant scenario straight into the configured store (demos, benchmarks)")
  .option('-c, --config <file>', 'YAML config file (section storage)')
  .option('--scenario <name|file>', 'scenario to simulate', 'hubei')
  .option('--days <n>', 'days of history, ending now', '30')
  .option('--step <seconds>', 'seconds between samples', '60')
  .option('--fields <set>', "'core' (power, energy, PF, output) or 'all'", 'core')
  .option('--store-path <file>', 'embedded store file (overrides storage.path)')
  .addHelpText('after', configHelp(['storage']))
  .action(async (opts: CommonOptions & { scenario: string; days: string; step: string; fields: string; storePath?: string }) => {
    const days = Number(opts.days)
    const stepS = Number(opts.step)
    if (!(days > 0 && days <= 3660)) throw new Error(`--days must be between 0 and 3660, got ${opts.days}`)
    if (!(stepS >= 1 && stepS <= 86_400)) throw new Error(`--step must be 1–86400 seconds, got ${opts.step}`)
    if (opts.fields !== 'core' && opts.fields !== 'all') throw new Error(`--fields must be core or all, got ${opts.fields}`)
    const cfg = load(opts)
    const storage = cfg.storage.backend === 'embedded' && opts.storePath ? { ...cfg.storage, path: opts.storePath } : cfg.storage
    const { createStore } = await import('../storage/index.ts')
    const { loadScenario, backfillScenario } = await import('../simulators/index.ts')
    const scenario = loadScenario(opts.scenario)
    const store = await createStore(storage)
    const stop = Date.now() - (Date.now() % 60_000)
    const started = performance.now()
    try {
      const result = await backfillScenario(scenario, store, { start: stop - days * 86_400_000, stop, stepMs: stepS * 1000, fields: opts.fields })
      const seconds = (performance.now() - started) / 1000
      process.stdout.write(`${JSON.stringify({ scenario: scenario.name, days, stepS, devices: result.devices, points: result.points, seconds: Number(seconds.toFixed(1)), pointsPerS: Math.round(result.points / seconds) })}\n`)
    } finally {
      await store.close()
    }
  })

program
  .command('alerts')
  .description('run the alert service: rules and the anomaly detector on the live data, events in the store, MQTT/webhook notifications')
  .option('-c, --config <file>', 'YAML config file (sections mqtt, storage, plant, alerts)')
  .addHelpText('after', configHelp(['mqtt', 'storage', 'plant', 'alerts']))
  .action(async (opts: CommonOptions) => {
    const logger = createLogger('alerts')
    const cfg = load(opts)
    const { createStore } = await import('../storage/index.ts')
    const { openEventLog } = await import('../storage/events.ts')
    const { startAlertService, RECOMMENDED_RULES } = await import('../alerts/index.ts')
    const { clientId } = await wiring()
    const { resolveComponentClients } = await import('./credentials.ts')
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
      settings: { pollEventsMs: cfg.alerts.pollEventsMs, tickMs: cfg.alerts.tickMs, restoreLookback: cfg.alerts.restoreLookback },
      logger,
    })
    process.stdout.write(`alert service: ${rules.length} rule(s)${cfg.alerts.rules.length === 0 ? ' (the recommended set)' : ''}, subscribed at ${cfg.mqtt.url}, events in ${cfg.storage.backend}\n`)
    runUntilSignal(
      [
        { name: 'store', close: () => store.close() },
        { name: 'event log', close: () => events.close() },
        { name: 'alerts', close: () => service.close() },
      ],
      logger,
    )
  })

program
  .command('import')
  .description('import historical data from a CSV file into the configured store (long layout, or interval kWh per row); see importer/README.md')
  .argument('<file>', 'CSV file (UTF-8, with a header line)')
  .option('-c, --config <file>', 'YAML config file (sections plant and storage)')
  .option('--layout <layout>', "long | interval (default: detected from the header)")
  .option('--device <address>', 'enterprise/site/line/device (or a unique device id) for files without a device column')
  .option('--timezone <zone>', "IANA zone of timestamps without an offset (default: the device's site zone)")
  .option('--timestamp-format <format>', 'iso | epoch-ms | epoch-s | "DD/MM/YYYY HH:mm" style (default: detected)')
  .option('--date-order <order>', 'dmy | mdy for slashed dates')
  .option('--timestamp-is <end>', 'interval layout: the timestamp marks the interval start | end (default end)')
  .option('--midnight <mode>', "auto | literal: read 'D 00:00' after D's rows as the end of day D (auto, default)")
  .option('--interval-minutes <n>', 'interval layout: interval length (default: learned per device)')
  .option('--start-kwh <n>', 'interval layout: counter value at the first interval start (default 0)')
  .option('--timestamp-column <name>', 'timestamp column name')
  .option('--device-column <name>', 'device column name')
  .option('--quantity-column <name>', 'long layout: quantity column name')
  .option('--value-column <name>', 'long layout: value column name')
  .option('--quality-column <name>', 'long layout: quality column name')
  .option('--energy-column <name>', 'interval layout: kWh column name (e.g. Usage_kWh)')
  .option('--map <column:quantity*scale>', 'interval layout: map another column to a quantity (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
  .option('--delimiter <char>', "field separator (default ','; '\\t' for tab)")
  .option('--dry-run', 'validate and report only; write nothing')
  .addHelpText('after', configHelp(['plant', 'storage']))
  .action(async (file: string, opts: CommonOptions & Record<string, unknown>) => {
    const logger = createLogger('import')
    const cfg = load(opts)
    const { runImportCommand, importOptionsFromFlags, formatImportReport } = await import('../importer/cli.ts')
    const result = await runImportCommand(file, { plant: cfg.plant, storage: cfg.storage }, importOptionsFromFlags(opts), logger)
    process.stdout.write(`${formatImportReport(result)}\n`)
    if (result.rejected > 0) process.exitCode = 2
  })

program
  .command('check')
  .description('validate a config file and report every problem at once')
  .requiredOption('-c, --config <file>', 'YAML config file')
  .action((opts: CommonOptions) => {
    loadPlantWattConfig(opts.config)
    process.stdout.write(`${opts.config}: ok\n`)
  })

program
  .command('bench')
  .description('run the benchmarks and print their results as JSON (also written to bench/results/)')
  .option('--samples <n>', 'samples to push through broker → ingest → store in each round', '500000')
  .option('--rounds <n>', 'rounds of raw write and pipeline after a warm-up round (medians are reported)', '3')
  .option('--enterprises <n>', 'enterprises of the commission-scope report benchmark (a year of data each)', '100')
  .action(async (opts: { samples: string; rounds: string; enterprises: string }) => {
    const { runBenchmarks } = await import('../bench/run.ts')
    await runBenchmarks({ samples: Number(opts.samples), rounds: Number(opts.rounds), reportEnterprises: Number(opts.enterprises) })
  })

try {
  await program.parseAsync(process.argv)
} catch (err) {
  process.stderr.write(`plantwatt: ${describeError(err)}\n`)
  process.exitCode = 1
}
