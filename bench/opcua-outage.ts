/**
 * Memory of the edge agent's OPC UA driver while its server is away (issue 19: RSS grew ~5.6 MB a
 * minute and was not released). One device polls a machine server (its own process), the server is
 * killed (SIGKILL), and the driver keeps reconnecting for the whole outage; heap (after a full GC)
 * and RSS are sampled. Not part of `npm run bench` (it takes as long as the outage):
 *
 *   node --expose-gc --import tsx bench/opcua-outage.ts                 # 30-minute outage, one attempt per second
 *   node --expose-gc --import tsx bench/opcua-outage.ts --minutes 2 --poll-ms 100
 *
 * Prints one JSON line: attempts, first and last heap/RSS (MiB) after the warm-up, and the slopes
 * (MiB per minute, least squares). test/faults/opcua-outage-memory.test.ts runs it for 30 s.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { type EdgeDeviceConfig, ModbusDeviceSchema } from '../edge-agent/config.ts'
import type { ObservableDriver } from '../edge-agent/device-table.ts'
import { BUILTIN_DRIVERS } from '../edge-agent/drivers.ts'
import { DevicePoller } from '../edge-agent/poller.ts'
import { startOpcuaServerProcess } from '../simulators/opcua/server-process.ts'

export interface OutageMemory {
  outageS: number
  pollIntervalMs: number
  /** Connect attempts that failed during the outage. */
  attempts: number
  /** Results published all-bad during the outage (one per failed attempt). */
  badResults: number
  heapStartMiB: number
  heapEndMiB: number
  rssStartMiB: number
  rssEndMiB: number
  heapSlopeMiBPerMin: number
  rssSlopeMiBPerMin: number
}

const mib = (n: number) => Number((n / 2 ** 20).toFixed(2))

function slopePerMin(points: readonly { t: number; v: number }[]): number {
  const n = points.length
  if (n < 2) return 0
  const mt = points.reduce((s, p) => s + p.t, 0) / n
  const mv = points.reduce((s, p) => s + p.v, 0) / n
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.v - mv), 0)
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0)
  return Number(((num / den) * 60_000).toFixed(3))
}

/** Heap after a full collection when `--expose-gc` was given (otherwise as it is). */
function heapNow(): number {
  ;(globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage().heapUsed
}

export async function measureOutageMemory(opts: { outageS: number; pollIntervalMs: number; warmupS?: number }): Promise<OutageMemory> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-opcua-outage-'))
  const server = await startOpcuaServerProcess({ pkiFolder: join(dir, 'server-pki'), name: 'outage', machines: ['cnc1'] })
  try {
    const ids = server.nodeIds.cnc1 as Record<string, string>
    const profile = join(dir, 'machine.yaml')
    writeFileSync(
      profile,
      [
        'name: outage',
        'vendor: PlantWatt',
        'model: simulator',
        'source: simulators/opcua',
        'points:',
        `  - { quantity: output_count, nodeId: "${ids.PartCount}" }`,
        `  - { quantity: active_power_kw, nodeId: "${ids.PowerKw}" }`,
      ].join('\n'),
    )
    const device = validateConfig(
      ModbusDeviceSchema,
      {
        enterprise: 'e',
        site: 's',
        line: 'l',
        device: 'cnc1',
        driver: 'opcua',
        profile,
        pollIntervalMs: opts.pollIntervalMs,
        opcua: { endpointUrl: server.endpointUrl, securityMode: 'None', securityPolicy: 'None', pkiDir: join(dir, 'agent-pki'), timeoutMs: 2000 },
      },
      'outage',
    ) as EdgeDeviceConfig
    const driver = (BUILTIN_DRIVERS.opcua as (d: EdgeDeviceConfig) => ObservableDriver)(device)
    let badResults = 0
    driver.observe({ logger: silentLogger(), onCondition() {}, onUnreachable: () => badResults++ })
    let values = 0
    const poller = new DevicePoller(device, driver, { onSample: (s) => (values += Object.keys(s.values).length), onConnectionChange() {} }, silentLogger())
    poller.start()
    const deadline = Date.now() + 20_000
    while (values === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    if (values === 0) throw new Error('no values from the server before the outage')
    server.signal('SIGKILL')
    await server.exited
    const errors0 = poller.counters.readErrors
    const t0 = Date.now()
    const warmupMs = (opts.warmupS ?? Math.min(10, opts.outageS / 4)) * 1000
    const heap: { t: number; v: number }[] = []
    const rss: { t: number; v: number }[] = []
    while (Date.now() - t0 < opts.outageS * 1000) {
      await new Promise((r) => setTimeout(r, Math.min(5000, Math.max(500, (opts.outageS * 1000) / 60))))
      const t = Date.now() - t0
      if (t < warmupMs) continue
      heap.push({ t, v: heapNow() })
      rss.push({ t, v: process.memoryUsage.rss() })
    }
    const attempts = poller.counters.readErrors - errors0
    await poller.close()
    const first = (a: { v: number }[]) => mib(a[0]?.v ?? 0)
    const last = (a: { v: number }[]) => mib(a.at(-1)?.v ?? 0)
    return {
      outageS: opts.outageS,
      pollIntervalMs: opts.pollIntervalMs,
      attempts,
      badResults,
      heapStartMiB: first(heap),
      heapEndMiB: last(heap),
      rssStartMiB: first(rss),
      rssEndMiB: last(rss),
      heapSlopeMiBPerMin: slopePerMin(heap.map((p) => ({ t: p.t, v: p.v / 2 ** 20 }))),
      rssSlopeMiBPerMin: slopePerMin(rss.map((p) => ({ t: p.t, v: p.v / 2 ** 20 }))),
    }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { minutes: { type: 'string', default: '30' }, seconds: { type: 'string' }, 'poll-ms': { type: 'string', default: '1000' } },
  })
  const outageS = values.seconds ? Number(values.seconds) : Number(values.minutes) * 60
  const result = await measureOutageMemory({ outageS, pollIntervalMs: Number(values['poll-ms']) })
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(0)
}
