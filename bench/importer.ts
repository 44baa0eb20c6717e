import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PlantModel } from '../core/plant.ts'
import { DEFAULT_TIMEZONE } from '../core/windows.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryPoint, TelemetryStore } from '../storage/store.ts'
import { importCsv, type ImportResult } from '../importer/index.ts'

/** Options of one import benchmark run. */
export interface BenchImportOptions {
  /** long: one row per (minute, quantity) with `quantities` rows a minute; interval: one kWh row a minute. Default interval. */
  layout?: 'long' | 'interval'
  /** Days of 1-minute data. Default 365. */
  days?: number
  /** Long layout: quantities per minute (active_power_kw, power_factor, voltage_l1_v …). Default 3. */
  quantities?: number
  /** store: the embedded SQLite store in a temp folder (default); null: a store that drops points (the importer alone). */
  store?: 'embedded' | 'null'
}

/** What a run measured. */
export interface BenchImportResult {
  layout: 'long' | 'interval'
  store: 'embedded' | 'null'
  rows: number
  points: number
  fileBytes: number
  /** Wall time of the import (both passes), s. */
  seconds: number
  rowsPerSecond: number
  /** CPU time of the process during the import (user + system), s: the figure to compare on a busy machine. */
  cpuSeconds: number
  rowsPerCpuSecond: number
  /** RSS before the import started, MiB. */
  rssBeforeMiB: number
  /** Highest RSS sampled every 20 ms during the import, MiB. */
  peakRssMiB: number
  /** Peak V8 heap used sampled likewise, MiB. */
  peakHeapMiB: number
}

const PLANT: PlantModel = {
  timezone: DEFAULT_TIMEZONE,
  strict: false,
  enterprises: [
    {
      id: 'bench',
      region: 'hubei',
      attributes: {},
      sites: [
        {
          id: 'site',
          lines: [{ id: 'line', mainMeter: 'meter', shifts: [], devices: [{ id: 'meter', kind: 'meter', keyEquipment: false, ncCapable: false }] }],
        },
      ],
    },
  ],
}
const DEVICE = 'bench/site/line/meter'
const LONG_QUANTITIES = ['active_power_kw', 'power_factor', 'voltage_l1_v', 'current_l1_a', 'frequency_hz', 'reactive_power_kvar']
const T0 = Date.UTC(2024, 11, 31, 16) // 2025-01-01 00:00 Shanghai

/** Writes the benchmark file through a stream (the generator never holds the file). */
async function writeFile(path: string, opts: Required<BenchImportOptions>): Promise<number> {
  const out = createWriteStream(path)
  const minutes = opts.days * 1440
  const qs = LONG_QUANTITIES.slice(0, opts.quantities)
  let rows = 0
  let chunk = opts.layout === 'long' ? 'timestamp,device,quantity,value\n' : 'timestamp,device,Usage_kWh\n'
  for (let m = 1; m <= minutes; m++) {
    const ts = new Date(T0 + m * 60_000).toISOString()
    if (opts.layout === 'long') {
      for (const [i, q] of qs.entries()) {
        chunk += `${ts},${DEVICE},${q},${q === 'power_factor' ? 0.9 : (100 + ((m * (i + 1)) % 50)).toFixed(2)}\n`
        rows++
      }
    } else {
      chunk += `${ts},${DEVICE},${(5 + (m % 7) * 0.25).toFixed(2)}\n`
      rows++
    }
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain')
      chunk = ''
    }
  }
  out.end(chunk)
  await once(out, 'finish')
  return rows
}

/** A store that accepts and forgets: isolates the importer's own cost. */
function nullStore(): TelemetryStore {
  return {
    backend: 'null',
    write: async (_points: readonly TelemetryPoint[]) => {},
    aggregate: async () => [],
    raw: async () => [],
    latest: async () => [],
    ping: async () => {},
    close: async () => {},
  }
}

/**
 * Generates a file of 1-minute data (default: one year, interval layout, one meter), imports it from
 * disk as `plantwatt import` does, and reports rows/s and peak memory.
 */
export async function benchImport(options: BenchImportOptions = {}): Promise<BenchImportResult> {
  const opts: Required<BenchImportOptions> = {
    layout: options.layout ?? 'interval',
    days: options.days ?? 365,
    quantities: options.quantities ?? 3,
    store: options.store ?? 'embedded',
  }
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-import-'))
  try {
    const file = join(dir, 'data.csv')
    const rows = await writeFile(file, opts)
    const store = opts.store === 'embedded' ? createEmbeddedStore({ path: join(dir, 'pw.db') }) : nullStore()
    global.gc?.()
    const before = process.memoryUsage()
    let peakRss = before.rss
    let peakHeap = before.heapUsed
    const timer = setInterval(() => {
      const m = process.memoryUsage()
      peakRss = Math.max(peakRss, m.rss)
      peakHeap = Math.max(peakHeap, m.heapUsed)
    }, 20)
    const t = process.hrtime.bigint()
    const cpu0 = process.cpuUsage()
    let result: ImportResult
    try {
      result = await importCsv({ path: file }, {}, { store, plant: PLANT })
    } finally {
      clearInterval(timer)
      await store.close()
    }
    const seconds = Number(process.hrtime.bigint() - t) / 1e9
    const cpu = process.cpuUsage(cpu0)
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    const mib = (b: number) => Math.round((b / 1048576) * 10) / 10
    if (result.rejected !== 0 || result.imported !== rows) throw new Error(`bench import rejected rows: ${JSON.stringify(result.errors.slice(0, 3))}`)
    return {
      layout: opts.layout,
      store: opts.store,
      rows,
      points: result.points,
      fileBytes: statSync(file).size,
      seconds: Math.round(seconds * 100) / 100,
      rowsPerSecond: Math.round(rows / seconds),
      cpuSeconds: Math.round(cpuSeconds * 100) / 100,
      rowsPerCpuSecond: Math.round(rows / cpuSeconds),
      rssBeforeMiB: mib(before.rss),
      peakRssMiB: mib(peakRss),
      peakHeapMiB: mib(peakHeap),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// `npx tsx bench/importer.ts [interval|long] [days] [embedded|null]` prints one JSON line.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [layout, days, store] = process.argv.slice(2)
  const result = await benchImport({
    ...(layout === 'long' || layout === 'interval' ? { layout } : {}),
    ...(days ? { days: Number(days) } : {}),
    ...(store === 'null' || store === 'embedded' ? { store } : {}),
  })
  console.log(JSON.stringify(result))
}
