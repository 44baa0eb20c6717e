/**
 * What one OPC UA notification costs inside the edge agent, split into node-opcua's decoding and
 * the agent's own path, in one process and without sockets (on demand, not in `npm run bench`):
 *
 *   node --import tsx bench/opcua-notify.ts [rounds]      # JSON on stdout
 *   node --import tsx bench/opcua-notify.ts --reads       # the subscribe-mode check read, below
 *
 * The workload of `bench/edge.ts`'s OPC UA run: 32 devices × 4 monitored items, 10 queued values
 * per item in each publish response (sampling 100 ms, publishing 1000 ms). Per round and device:
 *
 * - `decodeUsPerNote`: node-opcua decodes one encoded PublishResponse (40 MonitoredItemNotifications
 *   with source and server timestamps) — the library's share, which the agent cannot change;
 * - `agentUsPerNote`: the agent's path from the monitored items' `changed` events on: the driver's
 *   collect → results → apply (10 samples, one per source timestamp), `toSample`, the disk outbox
 *   (push, group commit, take, ack) and the publisher's payload encoding.
 *
 * Not included (see `bench/edge.ts` for the whole agent): the secure channel and TCP transport
 * (chunks, socket reads), the publish requests, MQTT.
 *
 * `--reads`: each poll of a subscribe-mode device is a Read of its nodes' NodeId attribute (the link
 * and every node still there). A node-opcua machine server in this process, one connected driver:
 * CPU µs per `session.read` alone and per `driver.read` (the same Read plus the agent's handling),
 * client and server together; the difference is the agent's own cost per poll.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  AttributeIds,
  BinaryStream,
  type ClientSession,
  DataChangeNotification,
  DataType,
  DataValue,
  MonitoredItemNotification,
  NotificationMessage,
  PublishResponse,
  StatusCodes,
  Variant,
} from 'node-opcua'
import { encodePayload } from '../core/payload.ts'
import type { EdgeDeviceConfig } from '../edge-agent/config.ts'
import { createDiskOutbox } from '../edge-agent/disk-outbox.ts'
import type { ReadResult } from '../edge-agent/driver.ts'
import { createOpcuaDriver, ensureOpcuaCertificate } from '../edge-agent/opcua/driver.ts'
import type { OpcuaPoint, OpcuaProfile } from '../edge-agent/opcua/profile.ts'
import { toSample } from '../edge-agent/sample.ts'

const DEVICES = 32
const QUEUED = 10
const POINTS: OpcuaPoint[] = [
  { quantity: 'machine_state', nodeId: 'ns=1;s=State', scale: 1, offset: 0 },
  { quantity: 'active_power_kw', nodeId: 'ns=1;s=PowerKw', scale: 1, offset: 0 },
  { quantity: 'energy_import_kwh', nodeId: 'ns=1;s=EnergyKwh', scale: 1, offset: 0 },
  { quantity: 'output_count', nodeId: 'ns=1;s=PartCount', scale: 1, offset: 0 },
]

export interface OpcuaNotifyResult {
  what: string
  notifications: number
  samples: number
  /** node-opcua decoding a PublishResponse, CPU µs per notification. */
  decodeUsPerNote: number
  /** The agent's own path per notification, CPU µs (driver, sample, disk outbox, payload encoding). */
  agentUsPerNote: number
}

/** The agent's driver entry point for a notification (private in the class; reached here on purpose). */
interface Collecting {
  collect(point: OpcuaPoint, dv: DataValue): void
  subscribe(onResult: (result: ReadResult) => void): () => void
}

function encodedResponse(round: number): Buffer {
  const t0 = Date.UTC(2026, 0, 1) + round * 1000
  const items: MonitoredItemNotification[] = []
  for (let q = 0; q < QUEUED; q++) {
    for (let h = 0; h < POINTS.length; h++) {
      const ts = new Date(t0 + q * 100)
      const value = h === 0 ? new Variant({ dataType: DataType.Int32, value: 2 }) : new Variant({ dataType: DataType.Double, value: 10 + q })
      items.push(
        new MonitoredItemNotification({
          clientHandle: h,
          value: new DataValue({ value, statusCode: StatusCodes.Good, sourceTimestamp: ts, serverTimestamp: ts }),
        }),
      )
    }
  }
  const response = new PublishResponse({
    subscriptionId: 1,
    notificationMessage: new NotificationMessage({
      sequenceNumber: round + 1,
      publishTime: new Date(t0 + 1000),
      notificationData: [new DataChangeNotification({ monitoredItems: items })],
    }),
    availableSequenceNumbers: [round + 1],
  })
  const stream = new BinaryStream(response.binaryStoreSize())
  response.encode(stream)
  return stream.buffer
}

function cpuUs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since)
  return u.user + u.system
}

export async function runOpcuaNotifyBenchmark(rounds = 100): Promise<OpcuaNotifyResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-opcua-notify-'))
  const outbox = createDiskOutbox({ dir, maxSamples: 1_000_000 })
  try {
    const profile: OpcuaProfile = { name: 'bench', vendor: 'PlantWatt', model: 'bench', source: 'bench', file: 'bench', points: POINTS }
    let samples = 0
    const drivers = Array.from({ length: DEVICES }, (_, i) => {
      const device = {
        enterprise: 'bench',
        site: 's1',
        line: 'l1',
        device: `m${i}`,
        driver: 'opcua',
        pollIntervalMs: 1000,
        opcua: { endpointUrl: 'opc.tcp://127.0.0.1:4840', securityMode: 'None', securityPolicy: 'None', mode: 'subscribe' },
      } as unknown as EdgeDeviceConfig
      const driver = createOpcuaDriver(device, profile) as unknown as Collecting
      // what the poller does with a pushed result (poller.ts accept): toSample, then the outbox
      driver.subscribe((result) => {
        const { sample } = toSample(result)
        if (!sample) return
        outbox.push(device, sample)
        samples++
      })
      return driver
    })
    const responses = Array.from({ length: rounds }, (_, r) => encodedResponse(r))
    const turn = () => new Promise((r) => setImmediate(r))
    const pass = async () => {
      let decodeUs = 0
      let agentUs = 0
      const samples0 = samples
      for (const buf of responses) {
        for (const driver of drivers) {
          const t = process.cpuUsage()
          const response = new PublishResponse()
          response.decode(new BinaryStream(buf))
          decodeUs += cpuUs(t)
          const a = process.cpuUsage()
          const data = response.notificationMessage.notificationData?.[0] as DataChangeNotification
          for (const n of data.monitoredItems ?? []) driver.collect(POINTS[n.clientHandle] as OpcuaPoint, n.value)
          agentUs += cpuUs(a)
        }
        const a = process.cpuUsage()
        await turn() // the drivers hand their results on (setImmediate), the outbox commits
        await turn()
        for (let b = outbox.take(100); b; b = outbox.take(100)) {
          encodePayload({ seq: b.seq, samples: [...b.samples] })
          outbox.ack(b)
        }
        await turn() // the acks' commit
        agentUs += cpuUs(a)
      }
      const notifications = rounds * DEVICES * QUEUED * POINTS.length
      return { notifications, samples: samples - samples0, decodeUs, agentUs }
    }
    await pass() // warm-up (JIT)
    const m = await pass()
    return {
      what: `${DEVICES} devices × ${POINTS.length} items × ${QUEUED} queued values per publish response, ${rounds} responses per device, disk outbox; CPU µs per notification`,
      notifications: m.notifications,
      samples: m.samples,
      decodeUsPerNote: Number((m.decodeUs / m.notifications).toFixed(2)),
      agentUsPerNote: Number((m.agentUs / m.notifications).toFixed(2)),
    }
  } finally {
    await outbox.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

export interface OpcuaReadCostResult {
  what: string
  /** Per round (the host is shared: take the lowest rounds), CPU µs per read. */
  rounds: { sessionReadUs: number; driverReadUs: number }[]
}

export async function runOpcuaReadCost(reads = 2500, rounds = 6): Promise<OpcuaReadCostResult> {
  const { startOpcuaMachineServer } = await import('../simulators/opcua/server.ts')
  const tmp = mkdtempSync(join(tmpdir(), 'pw-bench-opcua-read-'))
  const machines = [
    {
      id: 'm0',
      kind: 'cnc' as const,
      snapshot: () => ({ ts: Date.now(), state: 1 as const, stateName: 'running' as const, powerKw: 10, energyKwh: 1, partCount: 1, product: 'disc' }),
    },
  ]
  const server = await startOpcuaMachineServer({ pkiFolder: join(tmp, 'server'), name: 'bench-read', machines })
  const ids = server.nodeIds.m0 as Record<string, string>
  const names = ['State', 'PowerKw', 'EnergyKwh', 'PartCount']
  const points = POINTS.map((p, i) => ({ ...p, nodeId: ids[names[i] as string] as string }))
  const opcua = {
    endpointUrl: server.endpointUrl,
    securityMode: 'None',
    securityPolicy: 'None',
    pkiDir: join(tmp, 'agent-pki'),
    applicationName: 'PlantWatt bench',
    mode: 'subscribe',
    samplingIntervalMs: 1000,
    publishingIntervalMs: 1000,
    queueSize: 1,
    timeoutMs: 5000,
    deadband: 'none',
    deadbandValue: 0,
  }
  await ensureOpcuaCertificate(opcua as unknown as Parameters<typeof ensureOpcuaCertificate>[0])
  const device = { enterprise: 'bench', site: 's1', line: 'l1', device: 'm0', driver: 'opcua', pollIntervalMs: 1000, opcua } as unknown as EdgeDeviceConfig
  const profile: OpcuaProfile = { name: 'bench', vendor: 'PlantWatt', model: 'bench', source: 'bench', file: 'bench', points }
  const driver = createOpcuaDriver(device, profile)
  const ac = new AbortController()
  try {
    await driver.connect(ac.signal)
    // the driver's own session, for the bare Read of the same nodes
    const session = (driver as unknown as { session: ClientSession }).session
    const request = points.map((p) => ({ nodeId: p.nodeId, attributeId: AttributeIds.NodeId }))
    const out: OpcuaReadCostResult['rounds'] = []
    for (let r = 0; r < rounds; r++) {
      let t = process.cpuUsage()
      for (let i = 0; i < reads; i++) await session.read(request)
      const sessionReadUs = Math.round(cpuUs(t) / reads)
      t = process.cpuUsage()
      for (let i = 0; i < reads; i++) await driver.read(ac.signal)
      out.push({ sessionReadUs, driverReadUs: Math.round(cpuUs(t) / reads) })
    }
    return { what: `${reads} reads of 4 NodeIds per round, client and server in one process, CPU µs per read`, rounds: out }
  } finally {
    await driver.close()
    await server.close()
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = process.argv[2] === '--reads' ? await runOpcuaReadCost() : await runOpcuaNotifyBenchmark(Number(process.argv[2] ?? 100))
  console.log(JSON.stringify(result, null, 2))
  process.exit(0)
}
