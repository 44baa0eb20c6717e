import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { deviceKey, lineKey } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import type { FaultRecord } from '../simulators/faults.ts'
import { backfillScenario } from '../simulators/scenario/backfill.ts'
import { scenarioPlantModel } from '../simulators/scenario/model.ts'
import { loadScenario, type FaultInput, type FaultKind, type Scenario } from '../simulators/scenario/schema.ts'
import { mulberry32 } from '../simulators/prng.ts'
import { learnBaselines } from '../alerts/baseline.ts'
import { cachedOffsetMs } from '../alerts/time.ts'
import { AlertEngine, type Alert, type AlertSample } from '../alerts/engine.ts'
import { RECOMMENDED_RULES, validateAlertsConfig, type RuleKind } from '../alerts/rules.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../core/duration.ts'
import { DEFAULT_TIMEZONE } from '../core/windows.ts'

/**
 * Measures the alert engine on the hubei scenario: backfill a temporary embedded store with
 * fault-free history and then a period with injected faults (ground truth from simulators/faults.ts),
 * learn baselines from the fault-free history only, replay the rest through the engine in time order
 * (1-minute samples read back from the store, tick every minute), and score the alerts against the
 * ground truth. Prints JSON.
 */

/** Fault kinds the rules and the detector claim, and the rules that claim each. */
export const CLAIMED: Readonly<Partial<Record<FaultKind, readonly RuleKind[]>>> = {
  step: ['anomaly', 'standby'],
  drift: ['anomaly', 'standby'],
  spike: ['anomaly', 'standby'],
  standby: ['anomaly', 'standby'],
  offline: ['offline'],
  stuck: ['stuck', 'anomaly'],
  counter_reset: ['counter'],
}
/** Not claimed: garbage values are rejected by ingest (CORE_ERR_VALUE_RANGE, dead-lettered); clock skew is a data-quality matter (analytics/quality.ts). */
export const OUT_OF_SCOPE: readonly FaultKind[] = ['garbage', 'clock_skew']
const LOAD_KINDS: readonly FaultKind[] = ['step', 'drift', 'spike', 'standby']

/** The rules the evaluation runs: the recommended defaults (alerts/rules.ts RECOMMENDED_RULES). */
export const EVAL_RULES = RECOMMENDED_RULES

export interface EvalOptions {
  /** Fault-free history the baselines learn from, days. */
  learnDays: number
  /** Fault-free period replayed: must give no alert at all, days. */
  cleanDays: number
  /** Period with injected faults, days. */
  faultDays: number
  /** Faults per claimed kind. */
  faultsPerKind: number
  /** Only these enterprises of the scenario (default all). */
  enterprises?: readonly string[]
  seed?: number
  /** First sample, epoch ms (a Monday 00:00 local is a good start). */
  start?: number
  /** Multiplies every fault size (step, spike, drift, standby kW). Default 1. */
  sizeScale?: number
  /** Progress lines on stderr. */
  verbose?: boolean
}

export interface KindScore {
  faults: number
  detected: number
  recall: number
  /** Alerts matched to faults of this kind. */
  truePositives: number
  /** Alerts matching no fault, from rules that claim this kind. */
  falsePositives: number
  precision: number
  medianDelayMin: number | null
}

export interface EvalResult {
  scenario: string
  devices: number
  period: { learn: string; clean: string; faults: string }
  claimed: Record<string, KindScore>
  /** The strict scorer (strictScore): only claiming rules detect; precision over every alert. */
  strict: { claimed: Record<string, KindScore>; precision: number }
  outOfScope: readonly FaultKind[]
  cleanPeriod: { alerts: number; byRule: Record<string, number> }
  alerts: { total: number; unmatched: number }
  timingsMs: { backfill: number; learn: number; replay: number }
  /** Every claimed kind has precision ≥ 0.9 and recall ≥ 0.9, and the clean period gave no alert. */
  pass: boolean
}

/** An alert opened up to this long after a fault ended still counts as detecting it. */
const MATCH_GRACE_MS = 2 * HOUR_MS

interface LineInfo {
  key: string
  meters: { key: string; ratedKw: number; main: boolean }[]
  shifts: boolean
}

function linesOf(scenario: Scenario): LineInfo[] {
  const out: LineInfo[] = []
  for (const e of scenario.enterprises)
    for (const s of e.sites)
      for (const l of s.lines) {
        const key = lineKey({ enterprise: e.id, site: s.id, line: l.id })
        out.push({
          key,
          shifts: l.loadShape === 'shifts',
          meters: [
            { key: `${key}/${l.mainMeter.id}`, ratedKw: l.ratedKw, main: true },
            ...l.subMeters.map((m) => ({ key: `${key}/${m.id}`, ratedKw: l.ratedKw * m.share, main: false })),
          ],
        })
      }
  return out
}

/**
 * Faults for the evaluation period: `perKind` of each claimed kind, on meters, one at a time per line
 * with at least 12 h of quiet in between, sizes relative to the meter's rating:
 * step +15 % for 2–6 h, spike +50 % for 10–20 min, drift +10 %/day for 1–1.5 days, standby
 * +30 % at night (22:00–06:00) for 2 nights on lines that work shifts, offline 20–90 min,
 * stuck 1–3 h, counter reset (permanent).
 */
export function generateFaults(scenario: Scenario, from: number, to: number, perKind: number, seed: number, sizeScale = 1): FaultInput[] {
  const rnd = mulberry32(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T
  const lines = linesOf(scenario)
  const kinds = Object.keys(CLAIMED) as FaultKind[]
  const jobs: FaultKind[] = []
  for (let i = 0; i < perKind; i++) for (const k of kinds) jobs.push(k)
  const free = new Map(lines.map((l) => [l.key, from + 2 * HOUR_MS]))
  const out: FaultInput[] = []
  for (const kind of jobs) {
    const candidates = kind === 'standby' ? lines.filter((l) => l.shifts) : lines
    // The line free earliest, so faults spread over lines and time.
    const line = [...candidates].sort((a, b) => (free.get(a.key) as number) - (free.get(b.key) as number))[0]
    if (!line) continue
    const meter = kind === 'standby' ? pick(line.meters.filter((m) => !m.main)) : pick(line.meters)
    let start = (free.get(line.key) as number) + Math.floor(rnd() * 8) * HOUR_MS
    let end: number | undefined
    const f: Partial<FaultInput> = {}
    switch (kind) {
      case 'step':
        end = start + (2 + Math.floor(rnd() * 5)) * HOUR_MS
        f.deltaKw = Math.max(1, Math.round(0.15 * sizeScale * meter.ratedKw))
        break
      case 'spike':
        end = start + (10 + Math.floor(rnd() * 11)) * MINUTE_MS
        f.deltaKw = Math.max(1, Math.round(0.5 * sizeScale * meter.ratedKw))
        break
      case 'drift':
        end = start + (24 + Math.floor(rnd() * 13)) * HOUR_MS
        f.kwPerDay = Math.max(1, Math.round(0.1 * sizeScale * meter.ratedKw))
        break
      case 'standby': {
        // From local (UTC+8) noon of the day, for two nights.
        start = Math.ceil((start + 8 * HOUR_MS) / DAY_MS) * DAY_MS - 8 * HOUR_MS + 12 * HOUR_MS
        end = start + 2 * DAY_MS
        f.kw = Math.max(1, Math.round(0.3 * sizeScale * meter.ratedKw))
        break
      }
      case 'offline':
        end = start + (20 + Math.floor(rnd() * 71)) * MINUTE_MS
        break
      case 'stuck':
        end = start + (1 + Math.floor(rnd() * 3)) * HOUR_MS
        break
      case 'counter_reset':
        end = undefined
        break
      default:
        continue
    }
    if ((end ?? start + HOUR_MS) > to - 6 * HOUR_MS) continue
    out.push({
      device: meter.key,
      kind,
      start: new Date(start).toISOString(),
      ...(end !== undefined ? { end: new Date(end).toISOString() } : {}),
      ...f,
    } as FaultInput)
    free.set(line.key, (end ?? start + HOUR_MS) + 12 * HOUR_MS)
  }
  return out
}

const REPLAY_FIELDS = ['active_power_kw', 'power_factor', 'energy_import_kwh', 'output_t', 'output_count']

/** Reads 1-minute samples back from the store, a day at a time, and feeds them in time order. */
async function replay(store: TelemetryStore, engine: AlertEngine, from: number, to: number, onAlert: (a: Alert) => void): Promise<void> {
  for (let day = from; day < to; day += DAY_MS) {
    const stop = Math.min(to, day + DAY_MS)
    const rows = await store.aggregate({
      measurement: TELEMETRY_MEASUREMENT,
      fields: REPLAY_FIELDS,
      start: day,
      stop,
      every: '1m',
      fn: 'last',
      groupBy: ['enterprise', 'site', 'line', 'device'],
    })
    const byMinute = new Map<
      number,
      Map<string, { address: { enterprise: string; site: string; line: string; device: string }; values: Record<string, number> }>
    >()
    for (const r of rows) {
      let m = byMinute.get(r.windowStart)
      if (!m) byMinute.set(r.windowStart, (m = new Map()))
      const a = { enterprise: r.tags.enterprise ?? '', site: r.tags.site ?? '', line: r.tags.line ?? '', device: r.tags.device ?? '' }
      const k = deviceKey(a)
      let s = m.get(k)
      if (!s) m.set(k, (s = { address: a, values: {} }))
      s.values[r.field] = r.value
    }
    for (let t = day; t < stop; t += 60_000) {
      for (const tr of engine.tick(t)) if (tr.event === 'opened') onAlert(tr.alert)
      const samples = byMinute.get(t)
      if (!samples) continue
      for (const s of samples.values()) {
        const sample: AlertSample = { ts: t, values: s.values }
        for (const tr of engine.ingest(s.address, sample)) if (tr.event === 'opened') onAlert(tr.alert)
      }
    }
  }
  for (const tr of engine.tick(to)) if (tr.event === 'opened') onAlert(tr.alert)
}

function matches(alert: Alert, f: FaultRecord, mainMeters?: ReadonlySet<string>): boolean {
  const key = deviceKey(alert.address)
  const sameDevice = key === f.device
  // A load fault on a sub-meter is real load: the line's main meter sees it too.
  const faultLine = f.device.split('/').slice(0, 3).join('/')
  const isMain = mainMeters ? mainMeters.has(key) : alert.address.device === 'main'
  const onMain = LOAD_KINDS.includes(f.kind) && lineKey(alert.address) === faultLine && isMain
  if (!sameDevice && !onMain) return false
  const end = f.end ?? f.start + HOUR_MS
  return alert.openedAt >= f.start && alert.openedAt <= end + MATCH_GRACE_MS
}

/** When a fault starts to act: a standby fault only at its first night (nightStart, local time). */
function activeFrom(f: FaultRecord, timezone: string): number {
  if (f.kind !== 'standby' || typeof f.parameters.nightStart !== 'string') return f.start
  const [h, m] = f.parameters.nightStart.split(':').map(Number) as [number, number]
  const off = cachedOffsetMs(f.start, timezone)
  const localMidnight = Math.floor((f.start + off) / DAY_MS) * DAY_MS - off
  const night = localMidnight + (h * 60 + m) * MINUTE_MS
  return night >= f.start ? night : night + DAY_MS
}

/** Per claimed fault kind: detected faults, their median delay, true and false positives (both scorers). */
function scoreByKind(
  alerts: readonly Alert[],
  faults: readonly FaultRecord[],
  matchedTo: ReadonlyMap<string, FaultRecord>,
  unmatched: readonly Alert[],
  timezone: string,
): Record<string, KindScore> {
  const claimed: Record<string, KindScore> = {}
  for (const [kind, rules] of Object.entries(CLAIMED) as [FaultKind, readonly RuleKind[]][]) {
    const ofKind = faults.filter((f) => f.kind === kind)
    const delays: number[] = []
    for (const f of ofKind) {
      const first = alerts.filter((a) => matchedTo.get(a.id) === f).sort((a, b) => a.openedAt - b.openedAt)[0]
      if (first) delays.push((first.openedAt - activeFrom(f, timezone)) / MINUTE_MS)
    }
    const tp = alerts.filter((a) => matchedTo.get(a.id)?.kind === kind).length
    const fp = unmatched.filter((a) => (rules as readonly string[]).includes(a.ruleKind)).length
    delays.sort((a, b) => a - b)
    const mid = delays.length >> 1
    claimed[kind] = {
      faults: ofKind.length,
      detected: delays.length,
      recall: ofKind.length ? delays.length / ofKind.length : 1,
      truePositives: tp,
      falsePositives: fp,
      precision: tp + fp ? tp / (tp + fp) : 1,
      medianDelayMin: delays.length === 0 ? null : delays.length % 2 ? (delays[mid] as number) : ((delays[mid - 1] as number) + (delays[mid] as number)) / 2,
    }
  }
  return claimed
}

/**
 * Scores opened alerts against the ground truth. Detection delay: from the fault's start (for standby
 * faults, from the start of their first night, when the extra load appears). An alert matches a fault on its device (or, for a
 * load fault, on the main meter of the fault's line — `mainMeters`, default devices named `main`)
 * opened between the fault's start and 2 h after its end (1 h after the start for faults without end).
 */
export function score(
  alerts: readonly Alert[],
  faults: readonly FaultRecord[],
  mainMeters?: ReadonlySet<string>,
  timezone = DEFAULT_TIMEZONE,
): { claimed: Record<string, KindScore>; unmatched: Alert[] } {
  const matchedTo = new Map<string, FaultRecord>()
  for (const a of alerts) {
    const f = faults.find((x) => matches(a, x, mainMeters))
    if (f) matchedTo.set(a.id, f)
  }
  const unmatched = alerts.filter((a) => !matchedTo.has(a.id))
  const claimed = scoreByKind(alerts, faults, matchedTo, unmatched, timezone)
  return { claimed, unmatched }
}

/**
 * The strict scorer (issue 17): an alert detects a fault only when its rule claims the fault's kind
 * (CLAIMED), it is on the fault's device (or, for a load fault, on its line's main meter) and opens
 * between the fault's start and 2 h after its end. Precision counts every alert of every rule: an
 * offline flood detects nothing and costs precision. Per kind, precision is matched / (matched +
 * unmatched alerts of the rules claiming it), as in `score`.
 */
export function strictScore(
  alerts: readonly Alert[],
  faults: readonly FaultRecord[],
  mainMeters?: ReadonlySet<string>,
  timezone = DEFAULT_TIMEZONE,
): { claimed: Record<string, KindScore>; detected: Set<number>; precision: number; matchedAlerts: number; unmatched: Alert[] } {
  const matchedTo = new Map<string, FaultRecord>()
  for (const a of alerts) {
    const f = faults.find((x) => ((CLAIMED[x.kind] ?? []) as readonly string[]).includes(a.ruleKind) && matches(a, x, mainMeters))
    if (f) matchedTo.set(a.id, f)
  }
  const unmatched = alerts.filter((a) => !matchedTo.has(a.id))
  const detected = new Set([...matchedTo.values()].map((f) => f.id))
  const claimed = scoreByKind(alerts, faults, matchedTo, unmatched, timezone)
  return { claimed, detected, precision: alerts.length ? matchedTo.size / alerts.length : 1, matchedAlerts: matchedTo.size, unmatched }
}

const iso = (t: number): string => new Date(t).toISOString().slice(0, 16)

export async function runEvaluation(opts: EvalOptions): Promise<EvalResult> {
  const log = (msg: string): void => {
    if (opts.verbose) process.stderr.write(`[eval] ${msg}\n`)
  }
  const base = loadScenario('hubei')
  const enterprises = opts.enterprises ? base.enterprises.filter((e) => opts.enterprises?.includes(e.id)) : base.enterprises
  // 2026-01-05 00:00 Asia/Shanghai, a Monday.
  const start = opts.start ?? Date.UTC(2026, 0, 4, 16, 0)
  const learnEnd = start + opts.learnDays * DAY_MS
  const cleanEnd = learnEnd + opts.cleanDays * DAY_MS
  const stop = cleanEnd + opts.faultDays * DAY_MS
  const seed = opts.seed ?? 2024
  const plain: Scenario = { ...(base as Scenario), enterprises: enterprises as Scenario['enterprises'], faults: [] }
  const faultsIn = generateFaults(plain, cleanEnd, stop, opts.faultsPerKind, seed, opts.sizeScale ?? 1)
  const scenario = { ...plain, faults: faultsIn } as Scenario

  const dir = mkdtempSync(join(tmpdir(), 'pw-alerts-eval-'))
  const groundTruthFile = join(dir, 'ground-truth.jsonl')
  const store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
  try {
    let t0 = Date.now()
    const bf = await backfillScenario(scenario, store, { start, stop, stepMs: 60_000, integrationMs: 60_000, fields: 'core', groundTruthFile })
    const backfillMs = Date.now() - t0
    log(`backfilled ${bf.points} points of ${bf.devices} devices in ${backfillMs} ms`)
    const faults = readFileSync(groundTruthFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as FaultRecord)

    const plant = scenarioPlantModel(scenario)
    const { rules } = validateAlertsConfig({ rules: EVAL_RULES }, 'eval rules')
    t0 = Date.now()
    const baselines = await learnBaselines({ store, plant, rules, now: learnEnd })
    const learnMs = Date.now() - t0
    log(
      `learned ${baselines.anomaly.size} baselines (${[...baselines.anomaly.values()].filter((b) => b.model === 'production').length} on production), ${baselines.idleKw.size} idle levels in ${learnMs} ms`,
    )

    const engine = new AlertEngine({ plant, rules, baselines })
    const opened: Alert[] = []
    t0 = Date.now()
    await replay(store, engine, learnEnd, stop, (a) => opened.push(a))
    const replayMs = Date.now() - t0
    log(`replayed ${iso(learnEnd)} … ${iso(stop)}: ${opened.length} alerts in ${replayMs} ms`)

    const clean = opened.filter((a) => a.openedAt < cleanEnd)
    const mainMeters = new Set(linesOf(scenario).flatMap((l) => l.meters.filter((m) => m.main).map((m) => m.key)))
    const scored = score(
      opened.filter((a) => a.openedAt >= cleanEnd),
      faults,
      mainMeters,
      scenario.timezone,
    )
    const strict = strictScore(
      opened.filter((a) => a.openedAt >= cleanEnd),
      faults,
      mainMeters,
      scenario.timezone,
    )
    const byRule: Record<string, number> = {}
    for (const a of clean) byRule[a.rule] = (byRule[a.rule] ?? 0) + 1
    if (opts.verbose) {
      for (const a of [...clean, ...scored.unmatched])
        log(`unmatched: ${a.rule} ${deviceKey(a.address)} at ${iso(a.openedAt)} value ${a.value.toFixed(1)} expected ${a.threshold?.toFixed(1)}`)
      for (const f of faults) {
        const hit = opened.some((a) => matches(a, f, mainMeters))
        if (!hit) log(`missed: ${f.kind} on ${f.device} ${iso(f.start)} – ${f.end ? iso(f.end) : '…'} ${JSON.stringify(f.parameters)}`)
      }
    }
    const pass = clean.length === 0 && Object.values(scored.claimed).every((k) => k.precision >= 0.9 && k.recall >= 0.9 && k.faults > 0)
    return {
      scenario: `hubei${opts.enterprises ? ` (${opts.enterprises.join(', ')})` : ''}`,
      devices: bf.devices,
      period: { learn: `${iso(start)} … ${iso(learnEnd)}`, clean: `${iso(learnEnd)} … ${iso(cleanEnd)}`, faults: `${iso(cleanEnd)} … ${iso(stop)}` },
      claimed: scored.claimed,
      strict: { claimed: strict.claimed, precision: strict.precision },
      outOfScope: OUT_OF_SCOPE,
      cleanPeriod: { alerts: clean.length, byRule },
      alerts: { total: opened.length, unmatched: scored.unmatched.length },
      timingsMs: { backfill: backfillMs, learn: learnMs, replay: replayMs },
      pass,
    }
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The full evaluation: 2 weeks to learn from, a fault-free week, 2 weeks with 8 faults per claimed kind. */
export const FULL_EVAL: EvalOptions = { learnDays: 14, cleanDays: 7, faultDays: 14, faultsPerKind: 8 }

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const verbose = process.argv.includes('--verbose')
  const scaleArg = process.argv.find((a) => a.startsWith('--size='))
  const simOnly = process.argv.includes('--simulated-only')
  // Real data first (bench/alerts-eval-real.ts, the UCI steel file), then the simulated scenario.
  const real = simOnly ? Promise.resolve(undefined) : import('./alerts-eval-real.ts').then((m) => m.runRealEvaluation({ verbose }))
  real
    .then(async (realResult) => {
      const simulated = await runEvaluation({ ...FULL_EVAL, verbose, ...(scaleArg ? { sizeScale: Number(scaleArg.slice(7)) } : {}) })
      process.stdout.write(`${JSON.stringify({ real: realResult, simulated }, null, 2)}\n`)
      const realPass = !realResult || Object.values(realResult.targets).every(Boolean)
      process.exitCode = simulated.pass && realPass ? 0 : 1
    })
    .catch((err: unknown) => {
      process.stderr.write(`eval failed: ${(err as Error).message}\n`)
      process.exitCode = 2
    })
}
