/**
 * The province tier under load: N simulated enterprises (lightweight uploader simulators, each with
 * its own Ed25519 key and a realistic indicator set) upload a month of 15-minute, daily and monthly
 * indicators, then live through a day, to ONE province process over HTTPS.
 *
 * - The backlog runs on the wall clock, as fast as the province takes it; the province is killed
 *   (SIGKILL) after half of it and restarted after `--outage-s` wall seconds.
 * - The live day runs on a **simulated clock** `--speed` times faster than the wall (one SimClock
 *   anchor shared by the simulators and the province child, so the province stamps receipts and
 *   checks signatures in simulated time): each enterprise uploads every quarter when it closes
 *   (+ `--settle-s` + its own tick offset within `--interval-s`), the day's totals with the last one;
 *   in the middle of the day the province is down for `--live-outage-min` simulated minutes
 *   (SIGKILL, restarted when the hour is over): uploads falling due then fail, back off on the
 *   simulated clock (doubling from `--backoff-s`, jitter, capped at `--max-backoff-s`) and arrive after.
 * - At the end every generated record is looked up in the province store: lost, duplicated (a second
 *   revision row or a spurious revision), altered or unexpected are counted exactly.
 * - The commission overview and the city roll-up cold and warm at N (the uploaded province) and at
 *   `--big` (a store filled in-process with the same month shape).
 *
 *   node --import tsx bench/province.ts [--enterprises 1000] [--days 30] [--processes 2] [--live-quarters 96] [--speed 60]
 *     [--live-outage-min 60] [--outage-s 5] [--big 10000]
 *   npm run bench -- --only province
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:https'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildProvinceApp, UPLOAD_PATH } from '../province/app.ts'
import { resolveProvinceConfig, type ProvinceConfig } from '../province/config.ts'
import { MESSAGE_FORMAT, type IndicatorRecord } from '../province/message.ts'
import { QUARTERS_PER_DAY } from '../province/quality.ts'
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
  /** Quarters of the live day (96: a whole day, its totals with the last). */
  liveQuarters: number
  /** The mid-backlog SIGKILL: the province stays down this many wall seconds. */
  outageS: number
  /** The live day's clock runs this many times faster than the wall. */
  speed: number
  /** The live-day outage, simulated minutes, starting in the middle of the live day (0: none). */
  liveOutageMin: number
  /** A quarter is uploaded this long after it closes, simulated s (upload.settleS). */
  settleS: number
  /** Each simulator ticks at its own offset within this period, simulated s (upload.intervalS). */
  intervalS: number
  /** First retry delay and its cap, simulated s (upload.initialBackoffMs, upload.maxBackoffMs). */
  backoffS: number
  maxBackoffS: number
  big: number
  concurrency: number
}

/**
 * Simulated time: `simAt` at wall `wallAt`, then `speed` simulated ms per wall ms. The same anchor
 * goes to the province child (a JSON line on its stdin), so both ends read one clock.
 */
export class SimClock {
  constructor(
    readonly simAt: number,
    readonly wallAt: number,
    readonly speed: number,
  ) {}
  now(): number {
    return this.simAt + (Date.now() - this.wallAt) * this.speed
  }
  /** Waits (on the wall clock) until the simulated time `t`. */
  async until(t: number): Promise<void> {
    const wallMs = (t - this.now()) / this.speed
    if (wallMs > 0) await sleep(wallMs)
  }
  anchor(): string {
    return `${JSON.stringify({ simAt: this.simAt, wallAt: this.wallAt, speed: this.speed })}\n`
  }
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

/**
 * Request `b` of one enterprise's backlog, made when it is sent (a month of 1,000 enterprises is
 * millions of records): batch `b < days` is day `b` (its quarters and totals), batch `days` the month.
 */
function backlogBatch(s: Sim, b: number, o: ProvinceBenchOptions): IndicatorRecord[] {
  if (b === o.days) {
    let total = 0
    for (let d = 0; d < o.days; d++) total += dayRecords(s, NOV + d * D, o.processes)[0]?.value ?? 0
    return monthRecords(s, NOV, NOV + o.days * D, o.processes, total)
  }
  const day = NOV + b * D
  const quarters: IndicatorRecord[] = []
  for (let t = day; t < day + D; t += Q) quarters.push(...quarterRecords(s, t, o.processes))
  return [...quarters, ...dayRecords(s, day, o.processes)]
}

/** The live day's quarter `q` of one enterprise (the day's totals ride with the day's last quarter). */
function liveBatch(s: Sim, q: number, o: ProvinceBenchOptions): IndicatorRecord[] {
  const live = NOV + o.days * D
  const records = quarterRecords(s, live + q * Q, o.processes)
  return q === QUARTERS_PER_DAY - 1 ? [...records, ...dayRecords(s, live, o.processes)] : records
}

/** Every record one enterprise sends in the run, in order. */
function* allRecords(s: Sim, o: ProvinceBenchOptions): Generator<IndicatorRecord> {
  for (let b = 0; b <= o.days; b++) yield* backlogBatch(s, b, o)
  for (let q = 0; q < o.liveQuarters; q++) yield* liveBatch(s, q, o)
}

interface Answer {
  status: number
  text: string
}

/** How a simulator waits between attempts: wall ms in the backlog, simulated ms (on `clock`) in the live day. */
interface Backoff {
  initialMs: number
  maxMs: number
  clock?: SimClock
}

class Poster {
  readonly latencies: number[] = []
  failures = 0
  duplicates = 0
  constructor(
    private readonly url: string,
    private readonly agent: Agent,
  ) {}

  /** One signed attempt (a fresh nonce, the timestamp of `now`); a network failure answers status 0. */
  async attempt(s: Sim, body: Buffer, now: number): Promise<Answer> {
    const t0 = performance.now()
    const answer = await this.#post(s, body, now).catch((err: Error) => ({ status: 0, text: err.message }))
    if (answer.status === 200) {
      this.latencies.push(performance.now() - t0)
      this.duplicates += (JSON.parse(answer.text) as { duplicates: number }).duplicates
    } else if (answer.status >= 400 && answer.status < 500) {
      throw new Error(`${s.id}: refused ${answer.status} ${answer.text}`)
    } else this.failures++
    return answer
  }

  /** Posts until acknowledged: backoff doubling with jitter, a fresh signature each attempt. */
  async upload(s: Sim, records: IndicatorRecord[], b: Backoff): Promise<void> {
    const body = Buffer.from(JSON.stringify({ format: MESSAGE_FORMAT, enterprise: s.id, records }))
    for (let attempt = 0; ; attempt++) {
      const answer = await this.attempt(s, body, b.clock?.now() ?? Date.now())
      if (answer.status === 200) return
      const delay = Math.min(b.maxMs, b.initialMs * 2 ** attempt) * (0.5 + Math.random() / 2)
      await (b.clock ? b.clock.until(b.clock.now() + delay) : sleep(delay))
    }
  }

  #post(s: Sim, body: Buffer, now: number): Promise<Answer> {
    const headers = {
      'content-type': 'application/json',
      'content-length': String(body.length),
      ...signRequest(s.key, s.id, 'POST', UPLOAD_PATH, body, Math.round(now)),
    }
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
    stdio: ['pipe', 'pipe', 'inherit'],
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

/**
 * The one province process of the run: started, killed, restarted on the same port; its CPU summed
 * over the processes it has been; the simulated clock handed to each (env at start, stdin after).
 */
class ProvinceProcess {
  #clock: SimClock | undefined
  #deadCpuMs = 0
  #startCpuMs: number
  readonly all: Child[] = []
  private constructor(
    private readonly env: Record<string, string>,
    private child: Child,
  ) {
    this.all.push(child)
    this.#startCpuMs = cpuMsOf(child.proc.pid as number)
  }
  static async start(env: Record<string, string>): Promise<ProvinceProcess> {
    return new ProvinceProcess(env, await startChild(env, 0))
  }
  get url(): string {
    return this.child.url
  }
  /** CPU of every province process so far (utime + stime) after it listened (its start-up — tsx compiling — left out), ms. */
  cpuMs(): number {
    const alive = this.child.proc.exitCode === null && this.child.proc.signalCode === null
    return this.#deadCpuMs + (alive ? cpuMsOf(this.child.proc.pid as number) - this.#startCpuMs : 0)
  }
  setClock(clock: SimClock): void {
    this.#clock = clock
    this.child.proc.stdin?.write(clock.anchor())
  }
  async kill(): Promise<void> {
    this.#deadCpuMs += cpuMsOf(this.child.proc.pid as number) - this.#startCpuMs
    const exited = new Promise((resolve) => this.child.proc.once('exit', resolve))
    this.child.proc.kill('SIGKILL')
    await exited
  }
  async restart(): Promise<void> {
    const env = this.#clock ? { ...this.env, PW_CLOCK: this.#clock.anchor().trim() } : this.env
    this.child = await startChild(env, Number(new URL(this.child.url).port))
    this.all.push(this.child)
    this.#startCpuMs = cpuMsOf(this.child.proc.pid as number)
  }
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

/** The backlog: every enterprise's month, interleaved day by day (as a province of backfilling units sees it), with the mid-backlog SIGKILL. */
async function backlog(o: ProvinceBenchOptions, sims: readonly Sim[], poster: Poster, province: ProvinceProcess): Promise<Record<string, unknown>> {
  const jobs: { s: Sim; b: number }[] = []
  for (let b = 0; b <= o.days; b++) for (const s of sims) jobs.push({ s, b })
  const half = Math.floor(jobs.length / 2)
  let done = 0
  let records = 0
  let outage: Promise<void> | undefined
  const cpu0 = province.cpuMs()
  const t0 = performance.now()
  const wall = { initialMs: 100, maxMs: 2000 }
  await pool(jobs, o.concurrency, async (j) => {
    const batch = backlogBatch(j.s, j.b, o)
    records += batch.length
    await poster.upload(j.s, batch, wall)
    if (++done === half) {
      outage = (async () => {
        await province.kill()
        await sleep(o.outageS * 1000)
        await province.restart()
      })()
    }
  })
  await outage
  const seconds = (performance.now() - t0) / 1000
  const cpuMs = province.cpuMs() - cpu0
  return {
    requests: jobs.length,
    records,
    seconds: r3(seconds),
    uploadsPerS: r3(jobs.length / seconds),
    recordsPerS: r3(records / seconds),
    provinceCpuMsPerUpload: r3(cpuMs / jobs.length),
    provinceCpuUsPerRecord: r3((cpuMs * 1000) / records),
    p50Ms: p(poster.latencies, 0.5),
    p99Ms: p(poster.latencies, 0.99),
    sigkill: {
      atRequest: half,
      downWallS: o.outageS,
      failedAttempts: poster.failures,
      answeredAsDuplicates: poster.duplicates,
      note: 'wall clock: the simulators back off 100 ms doubling to 2 s and retry with a fresh signature',
    },
  }
}

/** What the live-day simulators count. */
interface LiveStats {
  requests: number
  records: number
  failedAttempts: number
  /** Records that fell due while the province was down, and how long after falling due each batch holding them was acknowledged (simulated ms). */
  dueInOutage: number
  outageDelaysMs: number[]
}

/**
 * One enterprise through the live day, as `upload/` behaves: at its tick after each quarter closes
 * (+ settle) the quarter joins the pending records; everything pending goes up in one request unless
 * a failure put it in backoff (doubling from backoffS, jitter, capped at maxBackoffS — simulated time).
 */
async function liveEnterprise(
  s: Sim,
  index: number,
  o: ProvinceBenchOptions,
  clock: SimClock,
  poster: Poster,
  st: LiveStats,
  down: { from: number; to: number },
): Promise<void> {
  const live = NOV + o.days * D
  // the enterprise's tick phase: spread over intervalS like uploaders started at different times
  const offset = o.settleS * 1000 + ((index * 7919) % Math.max(1, o.intervalS)) * 1000
  const due = (q: number): number => live + (q + 1) * Q + offset
  let q = 0
  let pending: IndicatorRecord[] = []
  let firstDue = 0
  let failing = 0
  let notBefore = 0
  while (q < o.liveQuarters || pending.length > 0) {
    const next = Math.min(q < o.liveQuarters ? due(q) : Number.POSITIVE_INFINITY, pending.length > 0 ? notBefore : Number.POSITIVE_INFINITY)
    await clock.until(next)
    const now = clock.now()
    for (; q < o.liveQuarters && due(q) <= now; q++) {
      const batch = liveBatch(s, q, o)
      if (pending.length === 0) firstDue = due(q)
      if (due(q) >= down.from && due(q) < down.to) st.dueInOutage += batch.length
      st.records += batch.length
      pending.push(...batch)
    }
    if (pending.length === 0 || now < notBefore) continue
    const body = Buffer.from(JSON.stringify({ format: MESSAGE_FORMAT, enterprise: s.id, records: pending }))
    const answer = await poster.attempt(s, body, clock.now())
    if (answer.status === 200) {
      st.requests++
      if (failing > 0 && firstDue < down.to) st.outageDelaysMs.push(clock.now() - firstDue)
      pending = []
      failing = 0
    } else {
      st.failedAttempts++
      failing++
      notBefore = clock.now() + Math.min(o.maxBackoffS * 1000, o.backoffS * 1000 * 2 ** (failing - 1)) * (0.5 + Math.random() / 2)
    }
  }
}

/** The live day on the simulated clock, the province down for `liveOutageMin` simulated minutes from the middle of the day. */
async function liveDay(o: ProvinceBenchOptions, sims: readonly Sim[], poster: Poster, province: ProvinceProcess): Promise<Record<string, unknown>> {
  const live = NOV + o.days * D
  const clock = new SimClock(live, Date.now(), o.speed)
  province.setClock(clock)
  const from = live + Math.floor(o.liveQuarters / 2) * Q
  const planned = { from, to: from + o.liveOutageMin * 60_000 }
  const actual = { killedAt: 0, upAt: 0 }
  poster.latencies.length = 0
  const st: LiveStats = { requests: 0, records: 0, failedAttempts: 0, dueInOutage: 0, outageDelaysMs: [] }
  const cpu0 = province.cpuMs()
  const t0 = performance.now()
  const outage = (async () => {
    if (o.liveOutageMin === 0) return
    await clock.until(planned.from)
    actual.killedAt = clock.now()
    await province.kill()
    await clock.until(planned.to)
    await province.restart()
    actual.upAt = clock.now()
  })()
  await Promise.all(sims.map((s, i) => liveEnterprise(s, i, o, clock, poster, st, planned)))
  await outage
  const seconds = (performance.now() - t0) / 1000
  const cpuMs = province.cpuMs() - cpu0
  const min = (ms: number): number => r3(ms / 60_000)
  return {
    clock: `simulated: ${o.speed}× the wall clock from ${new Date(live).toISOString()} (00:00 local); the province stamps receipts and checks signatures on the same clock`,
    simulatedHours: r3((clock.now() - live) / 3_600_000),
    wallS: r3(seconds),
    requests: st.requests,
    records: st.records,
    uploadsPerWallS: r3(st.requests / seconds),
    provinceCpuMsPerUpload: r3(cpuMs / st.requests),
    p50Ms: p(poster.latencies, 0.5),
    p99Ms: p(poster.latencies, 0.99),
    outage: {
      plannedSimMin: o.liveOutageMin,
      killedAtSim: actual.killedAt ? new Date(actual.killedAt).toISOString() : null,
      downSimMin: actual.upAt ? min(actual.upAt - actual.killedAt) : 0,
      failedAttempts: st.failedAttempts,
      recordsFallingDueWhileDown: st.dueInOutage,
      batchesDelayed: st.outageDelaysMs.length,
      delaySimMin: { p50: min(p(st.outageDelaysMs, 0.5)), max: min(st.outageDelaysMs.reduce((m, x) => Math.max(m, x), 0)) },
    },
  }
}

const recordKey = (r: IndicatorRecord): string => `${r.indicator}|${r.subject}|${r.carrier ?? ''}|${r.period}|${r.start}`

/** Every generated record looked up in the province store (the province stopped): exact lost, duplicated, altered, unexpected. */
function verify(o: ProvinceBenchOptions, sims: readonly Sim[], storePath: string): Record<string, unknown> {
  const store = new ProvinceStore({ path: storePath, timezone: 'Asia/Shanghai', lateAfterMs: 3_600_000 })
  try {
    const live = NOV + o.days * D
    const c = { expected: 0, held: 0, lost: 0, altered: 0, spuriousRevision: 0, unexpected: 0 }
    const liveDelays: number[] = []
    for (const s of sims) {
      const rows = store.enterpriseRecords(s.id, NOV, live + 2 * D)
      if (rows.length >= 20_000) throw new Error(`${s.id}: more records than enterpriseRecords returns at once`)
      const held = new Map(rows.map((r) => [recordKey(r), r]))
      for (const r of allRecords(s, o)) {
        c.expected++
        const row = held.get(recordKey(r))
        if (!row) {
          c.lost++
          continue
        }
        held.delete(recordKey(r))
        c.held++
        if (row.revision !== 0) c.spuriousRevision++
        if (row.value !== r.value || row.end !== r.end || row.unit !== r.unit) c.altered++
        if (r.period === '15m' && r.start >= live && r.subject === 'boundary') liveDelays.push(row.receivedAt - r.end)
      }
      c.unexpected += held.size
    }
    const counts = store.counts()
    return {
      ...c,
      revisionRows: counts.records - counts.current,
      duplicated: counts.records - counts.current + c.spuriousRevision,
      receipts: counts.receipts,
      liveBoundaryDelaySimMin: {
        p50: r3(p(liveDelays, 0.5) / 60_000),
        p99: r3(p(liveDelays, 0.99) / 60_000),
        max: r3(liveDelays.reduce((m, x) => Math.max(m, x), 0) / 60_000),
      },
    }
  } finally {
    store.close()
  }
}

/** The commission's answers from the uploaded province: the backlog month cold and warm, and the live day's data quality. */
async function commission(o: ProvinceBenchOptions, url: string, agent: Agent): Promise<Record<string, unknown>> {
  const liveMonth = new Date(NOV + o.days * D + 8 * 3_600_000).toISOString().slice(0, 7)
  const overviewCold = await get(`${url}/api/v1/overview?month=2026-11`, agent)
  const overviewWarm = await get(`${url}/api/v1/overview?month=2026-11`, agent)
  const citiesWarm = await get(`${url}/api/v1/cities?month=2026-11`, agent)
  const totals = (JSON.parse(overviewWarm.body) as { totals: Record<string, number> }).totals
  const liveTotals = (JSON.parse((await get(`${url}/api/v1/overview?month=${liveMonth}`, agent)).body) as { totals: Record<string, number> }).totals
  return {
    enterprises: o.enterprises,
    overviewColdMs: overviewCold.ms,
    overviewWarmMs: overviewWarm.ms,
    citiesWarmMs: citiesWarm.ms,
    completeness: totals.completeness,
    behind: totals.behind,
    liveMonth: { month: liveMonth, completeness: liveTotals.completeness, timeliness: liveTotals.timeliness, late: liveTotals.late },
  }
}

export async function runProvinceBenchmark(o: ProvinceBenchOptions): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-province-'))
  const load0 = loadavg()
  const wall0 = performance.now()
  let province: ProvinceProcess | undefined
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
      // the signature window is about real clocks and queues: on the simulated clock it is the same ±300 wall seconds
      skewS: 300 * Math.max(1, o.speed),
      enterprises: enterprises as ProvinceConfig['enterprises'],
    }
    // the registry goes in a file: a thousand public keys exceed what one environment variable may hold
    writeFileSync(join(dir, 'province.json'), JSON.stringify(config))
    province = await ProvinceProcess.start({ PW_CONFIG_FILE: join(dir, 'province.json') })
    const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency, ca: readFileSync(ca.caFile) })
    const poster = new Poster(province.url, agent)
    const month = await backlog(o, sims, poster, province)
    const liveFigures = o.liveQuarters > 0 ? await liveDay(o, sims, poster, province) : null
    const commissionFigures = await commission(o, province.url, agent)
    agent.destroy()
    await province.kill()
    const integrity = verify(o, sims, join(dir, 'province.sqlite'))
    const big = o.big > 0 ? await bigOverview(o.big, o, dir) : null
    return {
      benchmark: 'province',
      setup: `${o.enterprises} enterprises × (${1 + o.processes} 15-min energy series + daily totals + ${6 + 3 * o.processes} monthly indicators), ${o.days} days of backlog then ${o.liveQuarters} live quarters on a ${o.speed}× simulated clock; one province child process over HTTPS (Ed25519-signed requests); at most ${o.concurrency} requests in flight`,
      month,
      live: liveFigures,
      integrity,
      commission: commissionFigures,
      commissionAtScale: big,
      wallS: r3((performance.now() - wall0) / 1000),
      loadAverage: { start: load0.map(r3), end: loadavg().map(r3) },
    }
  } finally {
    for (const c of province?.all ?? []) c.proc.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

async function serve(): Promise<void> {
  const config = resolveProvinceConfig({
    ...(JSON.parse(readFileSync(process.env.PW_CONFIG_FILE ?? '', 'utf8')) as object),
    port: Number(process.env.PW_PORT ?? 0),
  })
  const clockOf = (line: string): SimClock => {
    const a = JSON.parse(line) as { simAt: number; wallAt: number; speed: number }
    return new SimClock(a.simAt, a.wallAt, a.speed)
  }
  let clock = process.env.PW_CLOCK ? clockOf(process.env.PW_CLOCK) : undefined
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      clock = clockOf(line)
    })
    // the parent is gone: so is the province it ran
    .on('close', () => process.exit(0))
  const service = await startProvince(config, { now: () => Math.round(clock?.now() ?? Date.now()) })
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
      speed: { type: 'string', default: '60' },
      'live-outage-min': { type: 'string', default: '60' },
      'settle-s': { type: 'string', default: '120' },
      'interval-s': { type: 'string', default: '60' },
      'backoff-s': { type: 'string', default: '1' },
      'max-backoff-s': { type: 'string', default: '300' },
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
  const liveQuarters = n('live-quarters', values['live-quarters'])
  if (liveQuarters > QUARTERS_PER_DAY) throw new Error(`--live-quarters must be at most ${QUARTERS_PER_DAY} (one day), got ${liveQuarters}`)
  return {
    enterprises: n('enterprises', values.enterprises, 1),
    days: n('days', values.days, 1),
    processes: n('processes', values.processes),
    liveQuarters,
    outageS: n('outage-s', values['outage-s']),
    speed: n('speed', values.speed, 1),
    liveOutageMin: n('live-outage-min', values['live-outage-min']),
    settleS: n('settle-s', values['settle-s']),
    intervalS: n('interval-s', values['interval-s'], 1),
    backoffS: n('backoff-s', values['backoff-s'], 1),
    maxBackoffS: n('max-backoff-s', values['max-backoff-s'], 1),
    big: n('big', values.big),
    concurrency: n('concurrency', values.concurrency, 1),
  }
}

if (process.argv[1] === SELF) {
  if (process.argv.includes('--serve')) await serve()
  else process.stdout.write(`${JSON.stringify(await runProvinceBenchmark(provinceOptions(process.argv.slice(2))), null, 2)}\n`)
}
