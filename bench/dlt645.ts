/**
 * DL/T 645 figures for `npm run bench` (`runDlt645Benchmark()`), or alone:
 *
 *   node --import tsx bench/dlt645.ts        # JSON on stdout
 *
 * A simulated bus of 32 DL/T 645-2007 meters (generic profile: 11 requests, 31 values per meter since the per-tariff blocks)
 * behind one DTU (TCP). The simulator runs in a child process, so the CPU measured here is the
 * driver's: values decoded per CPU second of this process, polling all 32 meters in turn on the
 * one shared bus, one request at a time. The bus time per poll is computed from the frame bytes
 * (11 bits per byte at 2400 baud 8E1): a pty or a TCP socket ignores the baud rate, so that part
 * cannot be measured here — it is what limits a real line.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { validateConfig } from '../core/config.ts'
import { ModbusDeviceSchema, type EdgeDeviceConfig } from '../edge-agent/config.ts'
import { createDlt645Driver } from '../edge-agent/dlt645/driver.ts'
import { MIN_TURNAROUND_MS, planDlt645Buses } from '../edge-agent/dlt645/plan.ts'
import { loadDlt645Profile } from '../edge-agent/dlt645/profile.ts'

const METERS = 32
const PROFILE = 'dlt645-2007-generic'
const address = (i: number) => String(100 + i).padStart(12, '0')

export interface Dlt645BenchmarkResult {
  what: string
  meters: number
  valuesPerPoll: number
  requestsPerPoll: number
  /** Good values decoded per CPU second of the agent side (user + system). */
  valuesPerCpuS: number
  /** Good values per wall-clock second over loopback TCP (the simulator answers at once). */
  valuesPerS: number
  polls: number
  badValues: number
  cpuS: number
  seconds: number
  /** One poll of all 32 meters on a real 2400-baud 8E1 line: bytes, line time, and with the 20 ms least reply delay per request. */
  bus2400: { bytesPerPoll: number; lineMsPerPoll: number; minBusMsPerPoll: number; turnaroundMsPerRequest: number }
}

async function world(): Promise<void> {
  const { SimMeter } = await import('../simulators/dlt645/meter.ts')
  const { startDlt645Simulator } = await import('../simulators/dlt645/server.ts')
  const meters = Array.from({ length: METERS }, (_, i) => new SimMeter({ address: address(i) }))
  const sim = await startDlt645Simulator({ meters, tcp: { port: 0 } })
  process.stdout.write(`${sim.port}\n`)
  setInterval(() => {
    for (const m of meters) m.tick()
  }, 100)
}

export async function runDlt645Benchmark(options: { seconds?: number } = {}): Promise<Dlt645BenchmarkResult> {
  const seconds = options.seconds ?? 5
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'world'], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const [chunk] = (await once(child.stdout, 'data')) as [Buffer]
    const port = Number(chunk.toString().trim())
    const profile = loadDlt645Profile(PROFILE)
    const configs: EdgeDeviceConfig[] = Array.from(
      { length: METERS },
      (_, i) =>
        validateConfig(
          ModbusDeviceSchema,
          {
            enterprise: 'b',
            site: 'b',
            line: 'b',
            device: `m${i}`,
            driver: 'dlt645',
            profile: PROFILE,
            dlt645: { transport: 'tcp', host: '127.0.0.1', port, address: address(i) },
          },
          'bench',
        ) as EdgeDeviceConfig,
    )
    const drivers = configs.map((c) => createDlt645Driver(c, profile))
    for (const d of drivers) await d.connect(AbortSignal.timeout(5000))
    const pollAll = () => Promise.all(drivers.map((d) => d.read(AbortSignal.timeout(10_000))))
    for (let i = 0; i < 20; i++) await pollAll() // warm-up
    let values = 0
    let bad = 0
    let polls = 0
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    while (performance.now() - t0 < seconds * 1000) {
      for (const r of await pollAll()) {
        values += Object.keys(r.values).length
        bad += Object.keys(r.quality).length
      }
      polls++
    }
    const wall = (performance.now() - t0) / 1000
    const used = process.cpuUsage(cpu0)
    const cpuS = (used.user + used.system) / 1e6
    for (const d of drivers) await d.close()
    const [bus] = planDlt645Buses(
      configs.map((c) => ({
        ...c,
        dlt645: {
          ...(c.dlt645 as NonNullable<EdgeDeviceConfig['dlt645']>),
          transport: 'serial' as const,
          path: '/dev/bench',
          host: undefined,
          port: undefined,
        },
      })),
    )
    if (!bus) throw new Error('no bus planned')
    return {
      what: `${METERS} DL/T 645-2007 meters (${PROFILE}) on one DTU bus, simulator in a child process, all meters polled in turn`,
      meters: METERS,
      valuesPerPoll: profile.points.length * METERS,
      requestsPerPoll: bus.requests.length,
      valuesPerCpuS: Math.round(values / cpuS),
      valuesPerS: Math.round(values / wall),
      polls,
      badValues: bad,
      cpuS: Number(cpuS.toFixed(2)),
      seconds: Number(wall.toFixed(2)),
      bus2400: {
        bytesPerPoll: bus.bytesPerPoll,
        lineMsPerPoll: bus.lineMsPerPoll,
        minBusMsPerPoll: bus.minBusMsPerPoll,
        turnaroundMsPerRequest: MIN_TURNAROUND_MS,
      },
    }
  } finally {
    child.kill('SIGTERM')
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'world') await world()
  else process.stdout.write(`${JSON.stringify(await runDlt645Benchmark(), null, 2)}\n`)
}
