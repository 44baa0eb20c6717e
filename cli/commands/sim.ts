import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import { stringify as toYaml } from 'yaml'
import { createLogger, type Logger } from '../../core/logger.ts'
import type { Scenario } from '../../simulators/index.ts'
import type { ResolvedConfig } from '../config.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, DEMO_CONFIG, portOption, type CommonOptions } from '../options.ts'
import { runUntilSignal } from '../run-until-signal.ts'
import type { Closable } from '../wiring.ts'

interface SimOptions extends CommonOptions {
  edgeConfig?: string
  scenario?: string
  groundTruth?: string
  controlPort?: number
  opcuaPki: string
  opcua: boolean
}

type ScenarioRun = Awaited<ReturnType<typeof import('../../simulators/index.ts').startScenario>>

/** One line per simulated device of a scenario: where it is served and what it is. */
export function scenarioEndpointLines(run: Pick<ScenarioRun, 'opcua' | 'meters' | 'plcs'>): string[] {
  const lines = run.opcua.map((o) => `${o.lineKey.padEnd(44)} ${o.endpointUrl} (OPC UA: ${o.machines.map((m) => m.address.device).join(', ')})`)
  for (const m of [...run.meters, ...run.plcs]) {
    const role = 'role' in m ? m.role : 'plc'
    const where = m.transport === 'tcp' ? `modbus-tcp://${m.host}:${m.port}` : `modbus-rtu:${m.path}@${m.baudRate}`
    lines.push(`${m.key.padEnd(44)} ${where} unit ${m.unitId} (${m.profile}, ${role})`)
  }
  return lines
}

function writeEdgeConfig(file: string, header: string, body: Record<string, unknown>): void {
  writeFileSync(file, `# ${header}\n${toYaml(body)}`)
  process.stdout.write(`edge config written to ${file}: run \`plantwatt edge -c ${file}\`\n`)
}

async function runScenario(cfg: ResolvedConfig, scenario: Scenario, opts: SimOptions, logger: Logger): Promise<void> {
  const { startScenario, scenarioPlantModel } = await import('../../simulators/index.ts')
  const { edgeConfigWith, edgeDevicesForScenario } = await import('../wiring.ts')
  const run = await startScenario(scenario, {
    ...(opts.groundTruth ? { groundTruthFile: opts.groundTruth } : {}),
    ...(opts.opcua === false ? {} : { opcua: { pkiFolder: opts.opcuaPki } }),
  })
  for (const line of scenarioEndpointLines(run)) process.stdout.write(`${line}\n`)
  const closables: Closable[] = [{ name: 'scenario', close: () => run.close() }]
  if (opts.controlPort !== undefined) {
    const { startFaultControl } = await import('../../simulators/control.ts')
    const control = await startFaultControl(run, { port: opts.controlPort })
    closables.push({ name: 'fault control', close: () => control.close() })
    process.stdout.write(`fault control: GET/POST ${control.url}/faults, DELETE ${control.url}/faults/<id>\n`)
  }
  if (opts.edgeConfig) {
    const edge = edgeConfigWith(cfg.edge, edgeDevicesForScenario(run))
    writeEdgeConfig(opts.edgeConfig, `written by plantwatt sim --scenario ${scenario.name}`, { mqtt: cfg.mqtt, plant: scenarioPlantModel(scenario), edge })
  }
  runUntilSignal(closables, logger)
}

async function runSimMeters(cfg: ResolvedConfig, opts: SimOptions, logger: Logger): Promise<void> {
  const { startSimulation } = await import('../../simulators/index.ts')
  const { edgeConfigWith, edgeDevicesForSimulators } = await import('../wiring.ts')
  const sim = await startSimulation(cfg.sim)
  for (const m of sim.meters) process.stdout.write(`${m.id.padEnd(16)} modbus-tcp://${m.host}:${m.port} unit ${m.unitId} (${m.profile})\n`)
  if (opts.edgeConfig) {
    const endpoints = sim.meters.map((m) => ({ id: m.id, host: m.host, port: m.port, unitId: m.unitId, profile: m.profile }))
    const edge = edgeConfigWith(cfg.edge, edgeDevicesForSimulators(cfg.plant, endpoints))
    writeEdgeConfig(opts.edgeConfig, 'written by plantwatt sim', { mqtt: cfg.mqtt, edge })
  }
  runUntilSignal([{ name: 'simulators', close: () => sim.close() }], logger)
}

async function runSim(opts: SimOptions): Promise<void> {
  const logger = createLogger('sim')
  const cfg = loadConfig(opts)
  if (!opts.scenario) return runSimMeters(cfg, opts, logger)
  const { loadScenario } = await import('../../simulators/index.ts')
  return runScenario(cfg, loadScenario(opts.scenario), opts, logger)
}

/** `plantwatt sim`: the config's simulated meters, or a plant scenario, with their endpoints. */
export function registerSimCommand(program: Command): void {
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
    .action(runSim)
}
