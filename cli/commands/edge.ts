import type { Command } from 'commander'
import { createLogger } from '../../core/logger.ts'
import type { AgentStatus } from '../../edge-agent/agent.ts'
import type { ResolvedConfig } from '../config.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, type CommonOptions } from '../options.ts'
import { addMetricsOptions, type MetricsCliOptions, withMetrics } from '../metrics-server.ts'
import { runUntilSignal } from '../run-until-signal.ts'
import type { EdgePushOptions } from './edge-push.ts'

/** The edge command's actions besides running: none, or `plan`. */
export function checkEdgeAction(action: string | undefined): 'run' | 'plan' | 'push' {
  if (action === undefined) return 'run'
  if (action === 'plan' || action === 'push') return action
  throw new Error(`unknown edge action ${JSON.stringify(action)} (expected plan or push)`)
}

/** The line `plantwatt edge` prints once its agents run: devices polled, not polled, and as which users. */
export function edgeSummary(cfg: Pick<ResolvedConfig, 'edge' | 'mqtt'>, agents: readonly Pick<AgentStatus, 'devices' | 'mqtt'>[]): string {
  const polled = agents.reduce((n, a) => n + a.devices.filter((d) => d.polling).length, 0)
  const notPolled = cfg.edge.devices.length - polled
  const users = agents.length > 1 ? ` as ${agents.length} gateway users (${agents.map((a) => a.mqtt.username ?? 'anonymous').join(', ')})` : ''
  return `edge agent ${cfg.edge.agentId} polling ${polled} device(s)${notPolled > 0 ? ` (${notPolled} not polled: bad profile, see the log)` : ''}, publishing to ${cfg.mqtt.url}${users}`
}

async function printPlan(cfg: ResolvedConfig): Promise<void> {
  const { edgePlan } = await import('../../edge-agent/index.ts')
  const plan = edgePlan(cfg.edge)
  process.stdout.write(plan.text + '\n')
  process.exitCode = plan.exitCode
}

async function runEdge(cfg: ResolvedConfig, opts: MetricsCliOptions): Promise<void> {
  const logger = createLogger('edge')
  const { edgeClientId } = await import('../wiring.ts')
  const { resolveComponentClients } = await import('../credentials.ts')
  const { startEdgeGateways } = await import('../edge-gateways.ts')
  const gateways = resolveComponentClients(cfg.mqtt).edge
  const edge = await startEdgeGateways(cfg.edge, gateways, logger, (agentId) => edgeClientId(cfg.mqtt.clientId, agentId, gateways.length))
  process.stdout.write(`${edgeSummary(cfg, Object.values(edge.status()))}\n`)
  runUntilSignal(await withMetrics(opts, () => edge.status(), logger, [{ name: 'edge', close: () => edge.close() }]), logger)
}

/** `plantwatt edge [plan]`: an edge agent per gateway user, or the read plan of the devices. */
export function registerEdgeCommand(program: Command): void {
  const command = program
    .command('edge')
    .description("run an edge agent: poll the configured devices and publish to the broker; 'plantwatt edge plan' prints the read plan")
    .argument(
      '[action]',
      "'plan': print each device's coalesced Modbus requests (or OPC UA nodes) and exit; 'push': send the agent a new device list (central configuration)",
    )
    .option('-c, --config <file>', 'YAML config file (sections mqtt, edge)')
    .addHelpText('after', configHelp(['mqtt', 'edge']))
    .option('--devices <file>', 'push: YAML with devices: (as edge.devices) and optionally profiles: (name → profile file)')
    .option('--config-version <n>', 'push: the config version, higher than the one in force')
    .option('--reload-profiles', 'push: ask the agent to re-read its profile files instead')
    .option('--username <user>', 'push: broker user with the admin role (password: env PLANTWATT_MQTT_PASSWORD)')
    .option('--wait-s <seconds>', "push: how long to wait for the agent's answer", '15')
    .action(async (action: string | undefined, opts: CommonOptions & MetricsCliOptions & EdgePushOptions) => {
      const which = checkEdgeAction(action)
      const cfg = loadConfig(opts)
      if (which === 'push') await (await import('./edge-push.ts')).edgePush(cfg, opts)
      else await (which === 'plan' ? printPlan(cfg) : runEdge(cfg, opts))
    })
  addMetricsOptions(command)
}
