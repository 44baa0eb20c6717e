import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { startBroker } from '../broker/index.ts'
import { BrokerConfigSchema } from '../broker/config.ts'
import { EdgeConfigSchema, type EdgeConfig } from '../edge-agent/config.ts'
import { planDevices } from '../edge-agent/describe-plan.ts'
import { startEdgeAgent, type AgentStatus } from '../edge-agent/agent.ts'
import { startMeterSimulator, type RunningMeter } from '../simulators/index.ts'

/** Edge agent figures for `npm run bench`. */
export interface EdgeBenchmarkResult {
  what: string
  /** Values decoded (good points) per wall-clock second, all devices together. */
  decodedValuesPerS: number
  /** Decoded values per CPU second of this process: an upper bound on the agent's cost, see `what`. */
  valuesPerCpuS: number
  /** CPU cores this process used on average while measuring. */
  cores: number
  devices: number
  /** Points per poll of one device (values in one sample). */
  valuesPerSample: number
  /** Coalesced Modbus requests per poll of one device. */
  requestsPerPoll: number
  pollIntervalMs: number
  seconds: number
  polls: number
  readErrors: number
  pointErrors: number
  /** Samples acknowledged by the broker during the window. */
  publishedSamples: number
  /** Peak resident set size of this process while measuring, MiB. */
  peakRssMiB: number
}

export interface EdgeBenchmarkOptions {
  /** Default 20. */
  devices?: number
  /** Measuring window, ms (after a 1 s warm-up). Default 5000. */
  durationMs?: number
  /** Poll period per device, ms. Default 10 (the schema's minimum): as fast as the meters answer. */
  pollIntervalMs?: number
}

const totals = (s: AgentStatus) =>
  s.devices.reduce(
    (t, d) => ({ reads: t.reads + d.reads, readErrors: t.readErrors + d.readErrors, pointErrors: t.pointErrors + d.pointErrors, published: t.published + d.publishedSamples }),
    { reads: 0, readErrors: 0, pointErrors: 0, published: 0 },
  )

/**
 * N simulated Eastron SDM630 meters (Modbus TCP, each on its own port), one edge agent polling them
 * and publishing QoS 1 to a PlantWatt broker, all in this process. Decoded values come from the
 * agent's own counters: reads × points per sample − bad points, over the window.
 */
export async function runEdgeBenchmark(options: EdgeBenchmarkOptions = {}): Promise<EdgeBenchmarkResult> {
  const n = options.devices ?? 20
  const durationMs = options.durationMs ?? 5000
  const pollIntervalMs = options.pollIntervalMs ?? 10
  const meters: RunningMeter[] = []
  const broker = await startBroker(validateConfig(BrokerConfigSchema, { port: 0, publishRate: { messagesPerS: 0 } }), { logger: silentLogger() })
  try {
    for (let i = 0; i < n; i++) meters.push(await startMeterSimulator({ profile: 'eastron-sdm630', ratedKw: 50 + i, port: 0 }))
    const config = validateConfig(
      EdgeConfigSchema,
      {
        agentId: 'bench-edge',
        statusIntervalMs: 1000,
        devices: meters.map((m, i) => ({
          enterprise: 'bench',
          site: 's1',
          line: 'l1',
          device: `m${i}`,
          driver: 'modbus',
          profile: 'eastron-sdm630',
          pollIntervalMs,
          connection: { host: m.host, port: m.port, unitId: m.unitId, timeoutMs: 1000 },
        })),
      },
      'bench edge',
    ) as EdgeConfig
    const plan = planDevices(config)[0]!
    const valuesPerSample = plan.requests.reduce((k, r) => k + r.points.length, 0)
    const agent = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100, clientId: 'bench-edge' }, logger: silentLogger() })
    try {
      await new Promise((r) => setTimeout(r, 1000)) // warm-up: connections, JIT
      const before = totals(agent.status())
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      let peakRss = process.memoryUsage.rss()
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss())
      }, 50)
      await new Promise((r) => setTimeout(r, durationMs))
      clearInterval(sampler)
      peakRss = Math.max(peakRss, process.memoryUsage.rss())
      const seconds = (performance.now() - t0) / 1000
      const used = process.cpuUsage(cpu0)
      const cpuS = (used.user + used.system) / 1e6
      const after = totals(agent.status())
      const polls = after.reads - before.reads
      const pointErrors = after.pointErrors - before.pointErrors
      const values = polls * valuesPerSample - pointErrors
      return {
        what: `${n} simulated SDM630 meters over Modbus TCP → edge agent → broker (QoS 1); simulators and broker run in the agent's process, so CPU and memory are upper bounds for the agent`,
        decodedValuesPerS: Math.round(values / seconds),
        valuesPerCpuS: Math.round(values / cpuS),
        cores: Number((cpuS / seconds).toFixed(2)),
        devices: n,
        valuesPerSample,
        requestsPerPoll: plan.requests.length,
        pollIntervalMs,
        seconds: Number(seconds.toFixed(2)),
        polls,
        readErrors: after.readErrors - before.readErrors,
        pointErrors,
        publishedSamples: after.published - before.published,
        peakRssMiB: Number((peakRss / 2 ** 20).toFixed(1)),
      }
    } finally {
      await agent.close()
    }
  } finally {
    await Promise.all(meters.map((m) => m.stop()))
    await broker.close()
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await runEdgeBenchmark(), null, 2))
}
