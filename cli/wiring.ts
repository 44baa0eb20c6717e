import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { validateConfig } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'
import { PlantDeviceIndex, type PlantModel } from '../core/plant.ts'
import type { Logger } from '../core/logger.ts'
import { defaultClientId, type MqttClientConfig } from '../core/mqtt.ts'
import { createStore, embeddedFileBytes, type TelemetryStore } from '../storage/index.ts'
import { startBroker } from '../broker/index.ts'
import { startIngest } from '../ingest/index.ts'
import { EdgeConfigSchema, type EdgeConfig } from '../edge-agent/config.ts'
import { startApi } from '../api/index.ts'
import { StreamHub } from '../api/hub.ts'
import { openEventLog, type EventLog } from '../storage/events.ts'
import { RECOMMENDED_RULES, startAlertService, type RunningAlertService } from '../alerts/index.ts'
import { prepareScenarioHistory, startSimulation, startScenario, scenarioPlantModel, type Scenario } from '../simulators/index.ts'
import type { ResolvedConfig } from './config.ts'
import { referenceOf } from './reference.ts'
import { checkClientsAgainstBroker, resolveComponentClients, type EdgeGateway } from './credentials.ts'
import { startEdgeGateways } from './edge-gateways.ts'
import { UploadsBook } from '../upload/status.ts'

/** Default of edge.bufferDir (edge-agent/config.ts). */
const DEFAULT_BUFFER_DIR = './data/edge-buffer'

/** Something started that must be stopped, in reverse order of starting. */

/** The embedded store's size for the metrics (`plantwatt_store_file_bytes`); nothing for InfluxDB or an in-memory store. */
export function storeSize(storage: ResolvedConfig['storage']): { store?: { fileBytes: number } } {
  return storage.backend === 'embedded' && storage.path !== ':memory:' ? { store: { fileBytes: embeddedFileBytes(storage.path) } } : {}
}

export interface Closable {
  name: string
  close(): Promise<void>
}

export interface SimEndpoint {
  id: string
  host: string
  port: number
  unitId: number
  profile: string
}

/**
 * Edge-agent devices for simulated meters: each meter is named after a device of the plant model,
 * whose place in the plant gives the topic.
 */
export function edgeDevicesForSimulators(plant: PlantModel, meters: readonly SimEndpoint[]): EdgeConfig['devices'] {
  const index = new PlantDeviceIndex(plant)
  return meters.map((m) => {
    const d = index.withId(m.id)[0]
    if (!d) {
      throw new PlantWattError(
        'CLI_ERR_SIM_DEVICE',
        `simulated meter ${JSON.stringify(m.id)} is not a device of the plant model: add it to plant.enterprises[].sites[].lines[].devices`,
      )
    }
    return {
      enterprise: d.enterprise,
      site: d.site,
      line: d.line,
      device: d.device,
      driver: 'modbus',
      profile: m.profile,
      connection: { transport: 'tcp', host: m.host, port: m.port, unitId: m.unitId },
    }
  }) as unknown as EdgeConfig['devices']
}

/** A complete edge config (defaults filled) from the file's edge section plus extra devices. */
export function edgeConfigWith(base: EdgeConfig, extra: EdgeConfig['devices']): EdgeConfig {
  return validateConfig(
    EdgeConfigSchema,
    { ...structuredClone(base), devices: [...structuredClone(base.devices), ...structuredClone(extra)] },
    'edge',
  ) as EdgeConfig
}

/** A component's default MQTT client id (core/mqtt.ts). */
export const clientId = defaultClientId

/**
 * An edge agent's client id: `mqtt.clientId` as configured for a single agent (with its agent id
 * appended when there are several: two clients with one id would keep cutting each other off).
 */
export function edgeClientId(configured: string | undefined, agentId: string, agents: number): string {
  if (configured === undefined) return clientId(`edge-${agentId}`)
  return agents > 1 ? `${configured}-${agentId}` : configured
}

export interface UpResult {
  store: TelemetryStore
  brokerUrl: string
  apiUrl: string
  plant: PlantModel
  simulators: SimEndpoint[]
  /** The running simulation (config `sim` section), so tests can compare served with stored values. */
  simulation?: Awaited<ReturnType<typeof startSimulation>>
  /** The running scenario when started with one. */
  scenario?: Awaited<ReturnType<typeof startScenario>>
  /** Where the uploaders started next (cli/commands/province.ts startUploadTier) register, so the API's GET /uploads sees them. */
  uploads: UploadsBook
  /** The event log of the API and the alert service: the uploaders read the audited entries and meter events from it. */
  events: EventLog
  closables: Closable[]
}

export interface StartAllOptions {
  /** Run this plant scenario instead of the config's `sim` meters; its plant model replaces `plant`. */
  scenario?: Scenario
  /** Where the scenario writes the ground truth of its faults (JSONL). */
  groundTruthFile?: string
  /**
   * With a scenario: serve its machines over OPC UA and poll them, keeping certificates and generated
   * profiles in this folder. Absent: no OPC UA (faster start; tests that don't need machines).
   */
  opcuaDir?: string
  /**
   * With a scenario: days of simulated history written into the store before the live run (only
   * what is missing since the newest stored sample; the live counters continue from it). 0 = none.
   */
  historyDays?: number
  /** Progress of the history backfill (points written so far). */
  onHistoryProgress?: (points: number) => void
  /** false: the live stream only polls every api.stream.pollMs, as a standalone API does (bench/live-latency.ts compares). Default true. */
  livePush?: boolean
}

/** Edge-agent devices for the Modbus TCP meters and line PLCs (production counters) of a running scenario. */
export function edgeDevicesForScenario(run: Awaited<ReturnType<typeof startScenario>>): EdgeConfig['devices'] {
  return [...run.meters, ...run.plcs]
    .filter((m) => m.transport === 'tcp')
    .map((m) => ({
      ...m.address,
      driver: 'modbus',
      profile: m.profile,
      connection: { transport: 'tcp', host: m.host, port: m.port, unitId: m.unitId },
    })) as unknown as EdgeConfig['devices']
}

/**
 * Edge-agent devices for the OPC UA machines of a running scenario. Each machine's node ids are its
 * own (`ns=N;s=<machine>.<Variable>`), so each gets a profile written to `dir` — the shipped
 * generic-cnc profile with its node ids. The simulators run on loopback with security None (the
 * agent would otherwise have to be told to trust their self-made certificates; see
 * edge-agent/README.md for SignAndEncrypt against a real server).
 */
export function edgeDevicesForOpcua(run: Awaited<ReturnType<typeof startScenario>>, dir: string): EdgeConfig['devices'] {
  if (run.opcua.length === 0) return []
  const profiles = join(dir, 'opcua-profiles')
  mkdirSync(profiles, { recursive: true })
  const devices: unknown[] = []
  for (const endpoint of run.opcua) {
    for (const m of endpoint.machines) {
      const file = resolve(profiles, `${m.key.replaceAll('/', '.')}.yaml`)
      const profile = {
        name: `sim-${m.address.device}`,
        vendor: 'PlantWatt simulator',
        model: `${m.kind} (generic-cnc node ids of ${m.key})`,
        source: 'written by plantwatt up --scenario from the simulator’s node ids',
        points: [
          { quantity: 'machine_state', nodeId: m.nodeIds.State },
          { quantity: 'active_power_kw', nodeId: m.nodeIds.PowerKw },
          { quantity: 'energy_import_kwh', nodeId: m.nodeIds.EnergyKwh },
          { quantity: 'output_count', nodeId: m.nodeIds.PartCount },
        ],
      }
      writeFileSync(file, `# written by plantwatt up --scenario; regenerated at every start\n${toYaml(profile)}`)
      devices.push({
        ...m.address,
        driver: 'opcua',
        profile: file,
        opcua: { endpointUrl: endpoint.endpointUrl, securityMode: 'None', securityPolicy: 'None', pkiDir: join(dir, 'edge-pki'), mode: 'subscribe' },
      })
    }
  }
  return devices as EdgeConfig['devices']
}

/** The simulated plant `plantwatt up` polls: the scenario (with its history) or the config's sim meters, and the edge devices for them. */
async function startSimulated(
  cfg: ResolvedConfig,
  plant: PlantModel,
  options: StartAllOptions,
  store: TelemetryStore,
  closables: Closable[],
): Promise<{ simulators: SimEndpoint[]; simDevices: EdgeConfig['devices']; simulation?: UpResult['simulation']; scenario?: UpResult['scenario'] }> {
  if (options.scenario) {
    const prepared = options.historyDays
      ? await prepareScenarioHistory(options.scenario, store, {
          days: options.historyDays,
          stepMs: 900_000,
          ...(options.onHistoryProgress ? { onProgress: options.onHistoryProgress } : {}),
        })
      : undefined
    const run = await startScenario(options.scenario, {
      ...(prepared ? { initialCounters: prepared.initialCounters } : {}),
      ...(options.groundTruthFile ? { groundTruthFile: options.groundTruthFile } : {}),
      ...(options.opcuaDir ? { opcua: { pkiFolder: join(options.opcuaDir, 'sim-pki') } } : {}),
    })
    closables.push({ name: 'scenario', close: () => run.close() })
    const simulators = run.meters
      .filter((m) => m.transport === 'tcp')
      .map((m) => ({ id: m.key, host: m.host as string, port: m.port as number, unitId: m.unitId, profile: m.profile }))
    const simDevices = [...edgeDevicesForScenario(run), ...(options.opcuaDir ? edgeDevicesForOpcua(run, options.opcuaDir) : [])]
    return { simulators, simDevices, scenario: run }
  }
  const sim = await startSimulation(cfg.sim)
  closables.push({ name: 'simulators', close: () => sim.close() })
  const simulators = sim.meters.map((m) => ({ id: m.id, host: m.host, port: m.port, unitId: m.unitId, profile: m.profile }))
  return { simulators, simDevices: edgeDevicesForSimulators(plant, simulators), simulation: sim }
}

/**
 * `plantwatt up`: store, broker, ingest, simulators, edge agent and API in one process. Started in
 * dependency order; on a failure everything already started is stopped again.
 */
export async function startAll(cfg: ResolvedConfig, logger: Logger, options: StartAllOptions = {}): Promise<UpResult> {
  const closables: Closable[] = []
  const plant: PlantModel = options.scenario ? scenarioPlantModel(options.scenario) : cfg.plant
  // Each component's broker user, checked against the broker's users before anything starts.
  const clients = checkClientsAgainstBroker(resolveComponentClients(cfg.mqtt), cfg.broker)
  try {
    const store = await createStore(cfg.storage)
    closables.push({ name: 'store', close: () => store.close() })

    const broker = await startBroker(cfg.broker, { logger: logger.child({ component: 'broker' }) })
    closables.push({ name: 'broker', close: () => broker.close() })
    // One process, several clients: a configured mqtt.clientId gets the component appended.
    const mqtt = (component: string, base: MqttClientConfig): MqttClientConfig => ({
      ...base,
      url: broker.url,
      clientId: cfg.mqtt.clientId === undefined ? clientId(component) : `${cfg.mqtt.clientId}-${component}`,
    })

    // Ingest tells the API's live streams which devices it just stored (api/hub.ts): they read at once.
    const hub = new StreamHub()
    const ingest = await startIngest({
      config: cfg.ingest,
      mqtt: mqtt('ingest', clients.ingest),
      store,
      plant,
      logger: logger.child({ component: 'ingest' }),
      ...(options.livePush === false ? {} : { onStored: (devices) => void hub.stored(devices) }),
    })
    closables.push({ name: 'ingest', close: () => ingest.close() })

    const { simulators, simDevices, simulation, scenario } = await startSimulated(cfg, plant, options, store, closables)

    // The agent's disk buffer sits beside an embedded store (one data folder per installation, and
    // two stacks on one machine never share a buffer file); else where the edge config says.
    const bufferDir =
      cfg.edge.bufferDir === DEFAULT_BUFFER_DIR && cfg.storage.backend === 'embedded' && cfg.storage.path !== ':memory:'
        ? join(dirname(resolve(cfg.storage.path)), 'edge-buffer')
        : cfg.edge.bufferDir
    const edgeConfig = edgeConfigWith({ ...cfg.edge, bufferDir }, simDevices)
    const gateways: EdgeGateway[] = clients.edge.map((g) => ({ ...g, mqtt: { ...g.mqtt, url: broker.url } }))
    const edge = await startEdgeGateways(edgeConfig, gateways, logger.child({ component: 'edge' }), (agentId) =>
      edgeClientId(cfg.mqtt.clientId === undefined ? undefined : `${cfg.mqtt.clientId}-edge`, agentId, gateways.length),
    )
    closables.push({ name: 'edge', close: () => edge.close() })

    const uploads = new UploadsBook()
    // One event log for the API and the alert service (with an in-memory store, two would not share).
    const events = await openEventLog(cfg.storage)
    closables.push({ name: 'event log', close: () => events.close() })
    let alerts: RunningAlertService | undefined

    const api = await startApi({
      store,
      plant,
      config: cfg.api,
      commission: cfg.commission,
      reference: referenceOf(cfg),
      // The rules the alert service below runs: POST /alerts/replay backtests these.
      alertRules: cfg.alerts.rules,
      events,
      hub,
      uploads,
      logger: logger.child({ component: 'api' }),
      deadLetters: ingest.deadLetters,
      // Each edge agent under its own name (edge, or edge/<enterprise> per gateway user): /health
      // names the component the broker refuses.
      status: () => ({
        broker: broker.stats(),
        ingest: ingest.stats(),
        ...edge.status(),
        ...(alerts ? { alerts: alerts.stats() } : {}),
        ...storeSize(cfg.storage),
      }),
    })
    closables.push({ name: 'api', close: () => api.close() })

    alerts = await startAlertService({
      mqtt: mqtt('alerts', clients.alerts),
      store,
      events,
      plant,
      rules: cfg.alerts.rules.length > 0 ? cfg.alerts.rules : RECOMMENDED_RULES,
      webhooks: cfg.alerts.webhooks,
      channels: cfg.alerts.channels,
      escalation: cfg.alerts.escalation,
      settings: { pollEventsMs: cfg.alerts.pollEventsMs, tickMs: cfg.alerts.tickMs, restoreLookback: cfg.alerts.restoreLookback },
      // Alerts reach the web UI's live stream of their line as they happen.
      onEvent: (n) => void hub.publish({ enterprise: n.enterprise, site: n.site, line: n.line, type: 'alert', data: n }),
      logger: logger.child({ component: 'alerts' }),
    })
    const running = alerts
    closables.push({ name: 'alerts', close: () => running.close() })
    return {
      store,
      brokerUrl: broker.url,
      apiUrl: api.url,
      plant,
      simulators,
      ...(simulation ? { simulation } : {}),
      ...(scenario ? { scenario } : {}),
      uploads,
      events,
      closables,
    }
  } catch (err) {
    await closeAll(closables, logger)
    throw err
  }
}

/** Stops in reverse order; one failing close does not keep the others open. */
export async function closeAll(closables: readonly Closable[], logger: Logger): Promise<void> {
  for (const c of [...closables].reverse()) {
    try {
      await c.close()
    } catch (err) {
      logger.warn({ err, component: c.name }, 'error while stopping')
    }
  }
}
