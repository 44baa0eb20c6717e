/**
 * The province tier under load: N simulated enterprises (lightweight uploader simulators, each with
 * its own Ed25519 key and a realistic indicator set) upload a month of 15-minute, daily and monthly
 * indicators and then a live day to ONE province process over HTTPS; the province is killed
 * (SIGKILL) in the middle of the month and comes back after an outage (scaled down: seconds, not an
 * hour). Then: zero lost and zero duplicated, uploads/s, CPU per upload, p99 latency; the commission
 * overview and the city roll-up cold and warm at N (the uploaded province) and at 10× N (a store
 * filled in-process with the same month shape).
 *
 *   node --import tsx bench/province.ts [--enterprises 1000] [--days 30] [--processes 2] [--live-quarters 96] [--outage-s 5] [--big 10000]
 *   npm run bench -- --only province
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildProvinceApp, UPLOAD_PATH } from '../province/app.ts'
import { resolveProvinceConfig, type ProvinceConfig } from '../province/config.ts'
import { MESSAGE_FORMAT, type IndicatorRecord } from '../province/message.ts'
import { EnterpriseRegistry } from '../province/registry.ts'
import { startProvince } from '../province/server.ts'
import { signRequest } from '../province/signing.ts'
import { ProvinceStore } from '../province/store.ts'
import { makeTestCa } from '../test/tls-ca.ts'

const Q = 900_000
const D = 86_400_000
/** 2026-11-01 00:00 Asia/Shanghai; the live day is 2026-12-01. */
const NOV = Date.UTC(2026, 9, 31, 16)
const CITIES = [
  '武汉 Wuhan',
  '黄石 Huangshi',
  '十堰 Shiyan',
  '宜昌 Yichang',
  '襄阳 Xiangyang',
  '鄂州 Ezhou',
  '荆门 Jingmen',
  '孝感 Xiaogan',
  '荆州 Jingzhou',
  '黄冈 Huanggang',
  '咸宁 Xianning',
  '随州 Suizhou',
  '恩施 Enshi',
]
const SELF = fileURLToPath(import.meta.url)

export interface ProvinceBenchOptions {
  enterprises: number
  days: number
  processes: number
  liveQuarters: number
  outageS: number
  big: number
  concurrency: number
}

interface Sim {
  id: string
  key: KeyObject
  /** Per-quarter boundary kWh (the plant's load) and the processes' shares of it. */
  kw: number
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000

/** A realistic indicator set of one enterprise: boundary + key-process electricity per quarter. */
function quarterRecords(s: Sim, start: number, processes: number): IndicatorRecord[] {
  const hour = ((start + 8 * 3_600_000) % D) / 3_600_000
  const boundary = r3((s.kw * (0.75 + 0.25 * Math.sin((hour / 24) * 2 * Math.PI))) / 4)
  const base = {
    indicator: 'energy' as const,
    carrier: 'electricity',
    period: '15m' as const,
    start,
    end: start + Q,
    revision: 0,
    unit: 'kWh',
    basis: 'energyReport 15m (bench)',
    coverage: 1,
  }
  return [
    { ...base, subject: 'boundary', value: boundary },
    ...Array.from({ length: processes }, (_, p) => ({ ...base, subject: `process/p${p}`, process: `p${p}`, value: r3((boundary * 0.6) / processes) })),
  ]
}

/** Σ of a day's quarters per series: the load shape repeats daily, so it depends on kW and processes only. */
const daySums = new Map<string, number[]>()

function dayRecords(s: Sim, start: number, processes: number): IndicatorRecord[] {
  const key = `${s.kw}|${processes}`
  let sums = daySums.get(key)
  if (!sums) {
    let acc = [0, ...Array.from({ length: processes }, () => 0)]
    for (let t = start; t < start + D; t += Q) acc = quarterRecords(s, t, processes).map((r, i) => (acc[i] ?? 0) + r.value)
    sums = acc
    daySums.set(key, sums)
  }
  return quarterRecords(s, start, processes).map((r, i) => ({
    ...r,
    period: 'day' as const,
    end: start + D,
    value: r3(sums[i] ?? 0),
    basis: 'energyReport day (bench)',
  }))
}

function monthRecords(s: Sim, start: number, end: number, processes: number, dayTotal: number): IndicatorRecord[] {
  const at = { period: 'month' as const, start, end, revision: 0, basis: 'bench month' }
  return [
    { ...at, indicator: 'energy', subject: 'boundary', carrier: 'electricity', value: r3(dayTotal), unit: 'kWh' },
    { ...at, indicator: 'comprehensive_energy', subject: 'boundary', value: r3(dayTotal * 0.1229), unit: 'kgce' },
    { ...at, indicator: 'output', subject: 'product/clinker', value: r3(dayTotal / 50), unit: 't' },
    { ...at, indicator: 'unit_consumption', subject: 'product/clinker', value: 50, unit: 'kWh/t', grade: s.kw % 3 === 0 ? 'benchmark' : 'compliant' },
    ...Array.from({ length: processes }, (_, p) => ({ ...at, indicator: 'key_process_nc' as const, subject: `process/p${p}`, value: p % 2, unit: 'flag' })),
    ...Array.from({ length: processes * 2 }, (_, d) => ({
      ...at,
      indicator: 'equipment_online' as const,
      subject: `device/p${d >> 1}_d${d}`,
      value: 0.9 + (d % 2) * 0.09,
      unit: 'share',
    })),
  ]
}

/** One enterprise's month as request bodies: a day of quarters and the day's totals per request; the month's records last. */
function monthBatches(s: Sim, o: ProvinceBenchOptions): IndicatorRecord[][] {
  const out: IndicatorRecord[][] = []
  let total = 0
  for (let d = 0; d < o.days; d++) {
    const day = NOV + d * D
    const quarters: IndicatorRecord[] = []
    for (let t = day; t < day + D; t += Q) quarters.push(...quarterRecords(s, t, o.processes))
    const totals = dayRecords(s, day, o.processes)
    total += totals[0]?.value ?? 0
    out.push([...quarters, ...totals])
  }
  out.push(monthRecords(s, NOV, NOV + o.days * D, o.processes, total))
  return out
}

class Poster {
  readonly latencies: number[] = []
  failures = 0
  duplicates = 0
  constructor(
    private readonly url: string,
    private readonly agent: Agent,
  ) {}

  /** Posts until acknowledged (backoff 100 ms doubling to 2 s, fresh signature each attempt). */
  async upload(s: Sim, records: IndicatorRecord[]): Promise<void> {
    const body = Buffer.from(JSON.stringify({ format: MESSAGE_FORMAT, enterprise: s.id, records }))
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now()
      const answer = await this.#post(s, body).catch((err: Error) => ({ status: 0, text: err.message }))
      if (answer.status === 200) {
        this.latencies.push(performance.now() - t0)
        this.duplicates += (JSON.parse(answer.text) as { duplicates: number }).duplicates
        return
      }
      if (answer.status >= 400 && answer.status < 500) throw new Error(`${s.id}: refused ${answer.status} ${answer.text}`)
      this.failures++
      await sleep(Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2))
    }
  }

  #post(s: Sim, body: Buffer): Promise<{ status: number; text: string }> {
    const headers = { 'content-type': 'application/json', 'content-length': String(body.length), ...signRequest(s.key, s.id, 'POST', UPLOAD_PATH, body) }
    return new Promise((resolve, reject) => {
      const req = request(new URL(UPLOAD_PATH, this.url), { method: 'POST', headers, agent: this.agent, timeout: 30_000 }, (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', reject)
      req.end(body)
    })
  }
}

/** Runs `jobs` with at most `concurrency` in flight. */
async function pool<T>(jobs: readonly T[], concurrency: number, run: (job: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) await run(jobs[next++] as T)
    }),
  )
}

function p(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return r3(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0)
}

/** utime + stime of a process, ms (Linux /proc). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

interface Child {
  proc: ChildProcess
  url: string
}

async function startChild(env: Record<string, string>, port: number): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SELF, '--serve'], {
    env: { ...process.env, ...env, PW_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve((JSON.parse(out.slice(0, nl)) as { url: string }).url)
    })
    proc.once('exit', (code) => reject(new Error(`province child exited ${code}`)))
  })
  return { proc, url }
}

async function get(url: string, agent: Agent): Promise<{ ms: number; body: string }> {
  const t0 = performance.now()
  const body = await new Promise<string>((resolve, reject) => {
    request(url, { agent }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => (text += c.toString()))
      res.on('end', () => resolve(text))
    })
      .on('error', reject)
      .end()
  })
  return { ms: r3(performance.now() - t0), body }
}

/** The 10× store always holds a whole month (30 days) of daily and monthly records. */
const BIG_DAYS = 30

/** The overview and city roll-up at `n` enterprises of a store filled in-process (month shape of the upload phase, see the note). */
async function bigOverview(n: number, o: ProvinceBenchOptions, dir: string): Promise<Record<string, number>> {
  const store = new ProvinceStore({ path: join(dir, `big-${n}.sqlite`), timezone: 'Asia/Shanghai', lateAfterMs: 3_600_000 })
  const enterprises = Array.from({ length: n }, (_, i) => ({
    id: `e${i}`,
    name: `Enterprise ${i}`,
    city: CITIES[i % CITIES.length] as string,
    publicKey: PUBLIC_PEM,
  }))
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const s: Sim = { id: `e${i}`, key: KEY, kw: 500 + (i % 97) * 40 }
    const records: IndicatorRecord[] = []
    let total = 0
    for (let d = 0; d < BIG_DAYS; d++) {
      // one boundary quarter per day (the per-day count rows the overview reads; the quarter rows themselves are never read by it)
      records.push(quarterRecords(s, NOV + d * D, 0)[0] as IndicatorRecord)
      const day = dayRecords(s, NOV + d * D, o.processes)
      total += day[0]?.value ?? 0
      records.push(...day)
    }
    records.push(...monthRecords(s, NOV, NOV + BIG_DAYS * D, o.processes, total))
    store.storeUpload(s.id, records, NOV + BIG_DAYS * D, `big${i}`)
  }
  const fillS = r3((performance.now() - t0) / 1000)
  const config = resolveProvinceConfig({ enterprises })
  const app = await buildProvinceApp({ config, store, registry: new EnterpriseRegistry(config.enterprises), now: () => NOV + 40 * D })
  const time = async (url: string): Promise<number> => {
    const t = performance.now()
    const res = await app.inject({ method: 'GET', url })
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`)
    return r3(performance.now() - t)
  }
  const overviewColdMs = await time('/api/v1/overview?month=2026-11')
  const overviewWarmMs = await time('/api/v1/overview?month=2026-11')
  const citiesWarmMs = await time('/api/v1/cities?month=2026-11')
  await app.close()
  store.close()
  return { enterprises: n, fillS, overviewColdMs, overviewWarmMs, citiesWarmMs }
}

const KEYPAIR = generateKeyPairSync('ed25519')
const KEY = KEYPAIR.privateKey
const PUBLIC_PEM = KEYPAIR.publicKey.export({ type: 'spki', format: 'pem' }).toString()

export async function runProvinceBenchmark(o: ProvinceBenchOptions): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-province-'))
  const children: Child[] = []
  try {
    const ca = makeTestCa(dir)
    const pairs = Array.from({ length: o.enterprises }, () => generateKeyPairSync('ed25519'))
    const sims: Sim[] = pairs.map((k, i) => ({ id: `e${i}`, key: k.privateKey, kw: 500 + (i % 97) * 40 }))
    const enterprises = pairs.map((k, i) => ({
      id: `e${i}`,
      name: `Enterprise ${i}`,
      city: CITIES[i % CITIES.length] as string,
      publicKey: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }))
    const config: Partial<ProvinceConfig> = {
      port: 0,
      tls: { certFile: ca.certFile, keyFile: ca.keyFile },
      dataDir: dir,
      enterprises: enterprises as ProvinceConfig['enterprises'],
    }
    // the registry goes in a file: a thousand public keys exceed what one environment variable may hold
    writeFileSync(join(dir, 'province.json'), JSON.stringify(config))
    const env = { PW_CONFIG_FILE: join(dir, 'province.json') }
    let child = await startChild(env, 0)
    children.push(child)
    const port = Number(new URL(child.url).port)
    const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency, ca: readFileSync(ca.caFile) })
    const poster = new Poster(child.url, agent)

    // the month: every enterprise's batches, interleaved day by day (as a province of backfilling units would see them)
    const batches = sims.map((s) => monthBatches(s, o))
    const jobs: { s: Sim; records: IndicatorRecord[] }[] = []
    for (let b = 0; b < (batches[0]?.length ?? 0); b++) for (const [i, s] of sims.entries()) jobs.push({ s, records: batches[i]?.[b] ?? [] })
    const expected = jobs.reduce((n, j) => n + j.records.length, 0)
    const half = Math.floor(jobs.length / 2)
    let done = 0
    let outage: Promise<void> | undefined
    const cpu0 = cpuMsOf(child.proc.pid as number)
    const t0 = performance.now()
    let cpuBeforeKill = 0
    await pool(jobs, o.concurrency, async (j) => {
      await poster.upload(j.s, j.records)
      if (++done === half) {
        outage = (async () => {
          cpuBeforeKill = cpuMsOf(child.proc.pid as number) - cpu0
          child.proc.kill('SIGKILL')
          await sleep(o.outageS * 1000)
          child = await startChild(env, port)
          children.push(child)
        })()
      }
    })
    await outage
    const monthS = (performance.now() - t0) / 1000
    const monthCpuMs = cpuBeforeKill + cpuMsOf(child.proc.pid as number)
    const monthLatencies = [...poster.latencies]

    // the live day: every enterprise uploads each quarter as it closes (compressed in time), the day's totals at the end
    poster.latencies.length = 0
    const live = NOV + o.days * D
    const cpu1 = cpuMsOf(child.proc.pid as number)
    const t1 = performance.now()
    let liveRecords = 0
    for (let q = 0; q < o.liveQuarters; q++) {
      await pool(sims, o.concurrency, async (s) => {
        const records = quarterRecords(s, live + q * Q, o.processes)
        liveRecords += records.length
        await poster.upload(s, records)
      })
    }
    const liveS = (performance.now() - t1) / 1000
    const liveCpuMs = cpuMsOf(child.proc.pid as number) - cpu1

    const health = JSON.parse((await get(`${child.url}/health`, agent)).body) as { records: number; current: number }
    const overviewCold = await get(`${child.url}/api/v1/overview?month=2026-11`, agent)
    const overviewWarm = await get(`${child.url}/api/v1/overview?month=2026-11`, agent)
    const citiesWarm = await get(`${child.url}/api/v1/cities?month=2026-11`, agent)
    const totals = (JSON.parse(overviewWarm.body) as { totals: Record<string, number> }).totals
    agent.destroy()
    const big = o.big > 0 ? await bigOverview(o.big, o, dir) : null
    return {
      benchmark: 'province',
      setup: `${o.enterprises} enterprises × (${1 + o.processes} 15-min energy series + daily totals + ${6 + 3 * o.processes} monthly indicators), ${o.days} days then ${o.liveQuarters} live quarters; one province child process over HTTPS (Ed25519-signed requests); ${o.concurrency} requests in flight`,
      month: {
        requests: jobs.length,
        records: expected,
        seconds: r3(monthS),
        uploadsPerS: r3(jobs.length / monthS),
        recordsPerS: r3(expected / monthS),
        provinceCpuMsPerUpload: r3(monthCpuMs / jobs.length),
        provinceCpuUsPerRecord: r3((monthCpuMs * 1000) / expected),
        p50Ms: p(monthLatencies, 0.5),
        p99Ms: p(monthLatencies, 0.99),
      },
      outage: {
        atRequest: half,
        seconds: o.outageS,
        note: 'scaled down from one hour: the simulators back off (100 ms doubling to 2 s) and retry with a fresh signature',
        failedAttempts: poster.failures,
        answeredAsDuplicates: poster.duplicates,
      },
      live: {
        requests: o.liveQuarters * o.enterprises,
        records: liveRecords,
        seconds: r3(liveS),
        uploadsPerS: r3((o.liveQuarters * o.enterprises) / liveS),
        provinceCpuMsPerUpload: r3(liveCpuMs / (o.liveQuarters * o.enterprises)),
        p50Ms: p(poster.latencies, 0.5),
        p99Ms: p(poster.latencies, 0.99),
      },
      integrity: {
        expected: expected + liveRecords,
        held: health.current,
        rowsWithRevisions: health.records,
        lost: expected + liveRecords - health.current,
        duplicated: health.records - health.current,
      },
      commission: {
        enterprises: o.enterprises,
        overviewColdMs: overviewCold.ms,
        overviewWarmMs: overviewWarm.ms,
        citiesWarmMs: citiesWarm.ms,
        completeness: totals.completeness,
        behind: totals.behind,
      },
      commissionAtScale: big,
    }
  } finally {
    for (const c of children) c.proc.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

async function serve(): Promise<void> {
  const config = resolveProvinceConfig({
    ...(JSON.parse(readFileSync(process.env.PW_CONFIG_FILE ?? '', 'utf8')) as object),
    port: Number(process.env.PW_PORT ?? 0),
  })
  const service = await startProvince(config)
  process.stdout.write(`${JSON.stringify({ url: service.url })}\n`)
}

export function provinceOptions(args: string[]): ProvinceBenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      enterprises: { type: 'string', default: '1000' },
      days: { type: 'string', default: '30' },
      processes: { type: 'string', default: '2' },
      'live-quarters': { type: 'string', default: '96' },
      'outage-s': { type: 'string', default: '5' },
      big: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '32' },
      serve: { type: 'boolean', default: false },
      only: { type: 'string' },
    },
    strict: false,
  })
  const n = (name: string, v: unknown, min = 0): number => {
    const x = Number(v)
    if (!Number.isInteger(x) || x < min) throw new Error(`--${name} must be a whole number ≥ ${min}, got ${String(v)}`)
    return x
  }
  return {
    enterprises: n('enterprises', values.enterprises, 1),
    days: n('days', values.days, 1),
    processes: n('processes', values.processes),
    liveQuarters: n('live-quarters', values['live-quarters']),
    outageS: n('outage-s', values['outage-s']),
    big: n('big', values.big),
    concurrency: n('concurrency', values.concurrency, 1),
  }
}

if (process.argv[1] === SELF) {
  if (process.argv.includes('--serve')) await serve()
  else process.stdout.write(`${JSON.stringify(await runProvinceBenchmark(provinceOptions(process.argv.slice(2))), null, 2)}\n`)
}
