import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { validateConfig } from '../core/config.ts'
import { MINUTE_MS } from '../core/duration.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { counterRollup } from '../reports/counter-rollup.ts'
import { billOfAccount, type Bill } from '../reports/bill.ts'
import type { ReportDeps } from '../reports/energy.ts'
import { createEmbeddedStore } from '../storage/index.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../storage/store.ts'

/**
 * A month's bill of one supply account fed by 10 incomers with 1-minute counters (kWh, kvarh import
 * and export): March 2026, 446 k points per quantity, embedded store. Cold = the first call (reads the
 * raw minutes, fills the counter roll-up); warm = median of 5 later calls (settled meters' minute
 * grids come from the roll-up's answer cache; the sliding demand, TOU pricing and 力调 are computed
 * every time); no cache = median of 3 calls without a roll-up (every minute read from the store).
 */

const INCOMERS = 10
const WARM_RUNS = 5
/** 2026-03-01T00:00 Asia/Shanghai and the month after. */
const MARCH = Date.UTC(2026, 1, 28, 16)
const APRIL = Date.UTC(2026, 2, 31, 16)

function benchModel(): PlantModel {
  const refs = Array.from({ length: INCOMERS }, (_, i) => `in/m${i}`)
  return validateConfig(
    PlantModelSchema,
    {
      timezone: 'Asia/Shanghai',
      enterprises: [
        {
          id: 'bench',
          region: 'hubei',
          sites: [
            {
              id: 'eaf',
              incomers: refs,
              accounts: [{ id: 'main', incomers: refs, voltageKv: 10, transformerKva: 90_000, billingBasis: 'contracted-demand', contractedDemandKw: 40_000 }],
              lines: [{ id: 'in', devices: refs.map((r) => ({ id: r.split('/')[1] as string })) }],
            },
          ],
        },
      ],
    },
    'bill benchmark plant',
  )
}

/** kW of incomer i in minute m: a 50-minute heat cycle (melt, refine, tap) shifted per incomer, on a base load. */
function kw(i: number, m: number): number {
  const phase = (m + i * 7) % 50
  return 1500 + (phase < 15 ? 6000 : phase < 30 ? 2500 : 0)
}

async function writeData(deps: ReportDeps): Promise<number> {
  let points = 0
  for (let i = 0; i < INCOMERS; i++) {
    const batch: TelemetryPoint[] = []
    let kwh = 1_000_000
    let m = 0
    for (let ts = MARCH - 60 * MINUTE_MS; ts <= APRIL + MINUTE_MS; ts += MINUTE_MS, m++) {
      batch.push({
        measurement: TELEMETRY_MEASUREMENT,
        tags: { enterprise: 'bench', site: 'eaf', line: 'in', device: `m${i}` },
        fields: { energy_import_kwh: kwh, reactive_energy_import_kvarh: kwh * 0.45, reactive_energy_export_kvarh: 10 },
        ts,
      })
      kwh += kw(i, m) / 60
    }
    for (let k = 0; k < batch.length; k += 20_000) await deps.store.write(batch.slice(k, k + 20_000))
    points += batch.length
  }
  return points
}

const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

async function timed(fn: () => Promise<Bill>): Promise<{ ms: number; cpuMs: number; bill: Bill }> {
  const c0 = cpuMs()
  const t0 = performance.now()
  const bill = await fn()
  return { ms: performance.now() - t0, cpuMs: cpuMs() - c0, bill }
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number
const r1 = (x: number): number => Math.round(x * 10) / 10

export interface BillBenchResult {
  what: string
  incomers: number
  points: number
  coldMs: number
  coldCpuMs: number
  warmMedianMs: number
  warmMedianCpuMs: number
  warmMs: number[]
  noCacheMedianMs: number
  slidingDemandKw: number
  fixedDemandKw: number
  totalCost: number
}

export async function runBillBenchmark(): Promise<BillBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-bill-'))
  const store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
  try {
    const model = benchModel()
    const now = () => APRIL + 5 * 86_400_000
    const cached: ReportDeps = { store, model, now, rollup: counterRollup() }
    const points = await writeData(cached)
    const run = (deps: ReportDeps) => () => billOfAccount(deps, 'bench/eaf/main', '2026-03')
    const cold = await timed(run(cached))
    const warm: Array<{ ms: number; cpuMs: number }> = []
    for (let k = 0; k < WARM_RUNS; k++) warm.push(await timed(run(cached)))
    const raw: number[] = []
    for (let k = 0; k < 3; k++) raw.push((await timed(run({ store, model, now }))).ms)
    return {
      what: "a month's bill (sliding 15/1-min demand, fixed windows, TOU energy, contracted-demand charge, 力调) of one account of 10 incomers with 1-minute kWh and kvarh counters, embedded store",
      incomers: INCOMERS,
      points,
      coldMs: r1(cold.ms),
      coldCpuMs: r1(cold.cpuMs),
      warmMedianMs: r1(median(warm.map((w) => w.ms))),
      warmMedianCpuMs: r1(median(warm.map((w) => w.cpuMs))),
      warmMs: warm.map((w) => r1(w.ms)),
      noCacheMedianMs: r1(median(raw)),
      slidingDemandKw: r1(cold.bill.demand.sliding?.demandKw ?? 0),
      fixedDemandKw: r1(cold.bill.demand.fixed?.demandKw ?? 0),
      totalCost: Math.round(cold.bill.totalCost * 100) / 100,
    }
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await runBillBenchmark(), null, 2)}\n`)
}
