import { PlantWattError } from '../core/errors.ts'
import { deviceKey } from '../core/plant.ts'
import type { Logger } from '../core/logger.ts'
import type { MqttClientConfig } from '../core/mqtt.ts'
import { startEdgeAgent, type AgentStatus, type RunningEdgeAgent } from '../edge-agent/index.ts'
import type { EdgeConfig } from '../edge-agent/config.ts'
import type { EdgeGateway } from './credentials.ts'

/** The devices one gateway connection carries, and the agent id it runs under. */
export interface GatewayGroup {
  gateway: EdgeGateway
  agentId: string
  /** Status key: `edge` for a single agent, else `edge/<enterprise>[/<site>]`. */
  name: string
  devices: EdgeConfig['devices']
}

/** Most specific first: the gateway of the device's site, then of its enterprise, then one without scope. */
function gatewayFor(d: EdgeConfig['devices'][number], gateways: readonly EdgeGateway[]): EdgeGateway | undefined {
  return (
    gateways.find((g) => g.enterprise === d.enterprise && g.site === d.site) ??
    gateways.find((g) => g.enterprise === d.enterprise && g.site === undefined) ??
    gateways.find((g) => g.enterprise === undefined)
  )
}

/**
 * Splits the devices between the gateway users, as the broker's gateway role scopes them (one
 * enterprise, optionally one site). A device no gateway may publish for is a config error naming
 * every such device (CLI_ERR_EDGE_SCOPE): started anyway, its samples would be refused by the broker.
 */
export function splitByGateway(devices: EdgeConfig['devices'], gateways: readonly EdgeGateway[], agentId: string): GatewayGroup[] {
  const groups = new Map<EdgeGateway, EdgeConfig['devices']>()
  const outside: string[] = []
  for (const d of devices) {
    const g = gatewayFor(d, gateways)
    if (!g) {
      outside.push(deviceKey(d))
      continue
    }
    groups.set(g, [...(groups.get(g) ?? []), d])
  }
  if (outside.length > 0) {
    const scopes = gateways.map((g) => `${g.label} → ${g.enterprise ?? '*'}/${g.site ?? '*'}`).join('; ')
    throw new PlantWattError(
      'CLI_ERR_EDGE_SCOPE',
      `${outside.length} edge device(s) outside every gateway user's scope (${scopes}): ${outside.join(', ')}. Add a gateway user (broker.users, role gateway) and an mqtt.credentials.edge entry for their enterprise`,
      { details: outside },
    )
  }
  const used = gateways.filter((g) => groups.has(g))
  return used.map((g) => {
    const scope = g.enterprise === undefined ? 'all' : g.site === undefined ? g.enterprise : `${g.enterprise}-${g.site}`
    return {
      gateway: g,
      // One agent keeps its configured id (and buffer file); several get one each.
      agentId: used.length === 1 ? agentId : `${agentId}-${scope}`.slice(0, 64),
      name: used.length === 1 ? 'edge' : `edge/${g.enterprise === undefined ? '*' : g.enterprise}${g.site === undefined ? '' : `/${g.site}`}`,
      devices: groups.get(g) ?? [],
    }
  })
}

/** Several edge agents, one per gateway user, as one part to status and close. */
export interface RunningEdgeGateways {
  /** Each agent's status under its group name. */
  status(): Record<string, AgentStatus>
  close(): Promise<void>
}

/**
 * Starts one edge agent per gateway group (same settings, its own devices, agent id and broker
 * user). A config without devices starts the one agent anyway (it publishes nothing).
 */
export async function startEdgeGateways(
  config: EdgeConfig,
  gateways: readonly EdgeGateway[],
  logger: Logger,
  clientIdFor: (agentId: string, gateway: EdgeGateway) => string,
): Promise<RunningEdgeGateways> {
  const groups = splitByGateway(config.devices, gateways, config.agentId)
  const first = gateways[0]
  if (groups.length === 0 && first) groups.push({ gateway: first, agentId: config.agentId, name: 'edge', devices: [] })
  const running: { name: string; agent: RunningEdgeAgent }[] = []
  try {
    for (const g of groups) {
      const mqtt: MqttClientConfig = { ...g.gateway.mqtt, clientId: clientIdFor(g.agentId, g.gateway) }
      const agent = await startEdgeAgent({
        config: { ...config, agentId: g.agentId, devices: g.devices },
        mqtt,
        logger: groups.length === 1 ? logger : logger.child({ gateway: g.name }),
      })
      running.push({ name: g.name, agent })
    }
  } catch (err) {
    await Promise.allSettled(running.map((r) => r.agent.close()))
    throw err
  }
  return {
    status: () => Object.fromEntries(running.map((r) => [r.name, r.agent.status()])),
    close: async () => {
      await Promise.all(running.map((r) => r.agent.close()))
    },
  }
}
