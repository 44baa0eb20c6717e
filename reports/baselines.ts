import { windowStarts } from '../core/windows.ts'
import {
  analyticsError,
  baselineAt,
  fitBaseline,
  localParts,
  predict,
  reviseBaseline,
  savings as savingsOf,
  type BaselineModel,
  type BaselineRevision,
  type Observation,
  type TimeRange,
  type ValidityThresholds,
} from '../analytics/index.ts'
import type { EventLog, StoredEvent } from '../storage/events.ts'
import { energyReport, productionReport, type EnergyRow, type ReportDeps } from './energy.ts'
import { reportError } from './errors.ts'
import { formatScope, linesOf, scopeLevel, type Scope, type ScopeLine } from './scope.ts'
import { DAY_MS, HOUR_MS } from '../core/duration.ts'

/**
 * ISO 50006 energy baselines of a line: energy per day (or week) regressed on relevant variables —
 * production and operating hours — over a baseline period; revisions recorded in the event log;
 * savings and CUSUM over a reporting period with the revision in force at each period.
 */

/** Event kind of a recorded revision (tags enterprise, site, line). */
export const BASELINE_EVENT_KIND = 'baseline_revision'
export const BASELINE_VARIABLES = ['production', 'operating_hours'] as const
export type BaselineVariable = (typeof BASELINE_VARIABLES)[number]
export const BASELINE_PERIODS = ['day', 'week'] as const
export type BaselinePeriod = (typeof BASELINE_PERIODS)[number]
/** A period whose energy (or production) data covers less than this share of it is left out. */
export const MIN_PERIOD_COVERAGE = 0.9
/** Default idle level: this share of the 95th percentile of hourly mean power over the baseline period. */
export const DEFAULT_IDLE_SHARE = 0.2

/** Everything needed to compute the model's variables again for another period. */
export interface BaselineSpec {
  period: BaselinePeriod
  variables: BaselineVariable[]
  /** Operating hour = an hour whose mean power (its energy / 1 h) is above this, kW; null when operating hours are not a variable. */
  idleKw: number | null
  baselineStart: number
  baselineStop: number
  timezone: string
}

/** A recorded revision: analytics' revision plus what it was fitted on, who recorded it and when. */
export interface StoredRevision extends BaselineRevision {
  /** 'enterprise/site/line' */
  line: string
  spec: BaselineSpec
  user: string
  /** When it was recorded, epoch ms (the event's ts). */
  recordedAt: number
}

/** One day or week of a line: energy and the candidate variables. */
export interface PeriodData {
  period: string
  start: number
  end: number
  energyKwh: number
  /** Lowest of the energy and (when used) production coverage, 0..1. */
  coverage: number
  energyCoverage: number
  production: number | null
  productionCoverage: number | null
  /** Hourly energy inside the period (for operating hours). */
  hours: Array<{ start: number; end: number; energyKwh: number }>
}

export interface ExcludedPeriod {
  period: string
  start: number
  end: number
  reason: string
}

/** Full local days or weeks (Monday) inside [start, end); partial ones at the edges are left out. */
export function periodWindows(range: TimeRange, period: BaselinePeriod, timezone: string): Array<{ label: string; start: number; end: number }> {
  const every = period === 'day' ? '1d' : '1w'
  const starts = windowStarts(range.start, range.end + 8 * DAY_MS, every, timezone)
  const out: Array<{ label: string; start: number; end: number }> = []
  for (let i = 0; i + 1 < starts.length; i++) {
    const start = starts[i] as number
    const end = starts[i + 1] as number
    if (start < range.start || end > range.end) continue
    const l = localParts(start, timezone)
    out.push({ label: `${l.year}-${String(l.month).padStart(2, '0')}-${String(l.day).padStart(2, '0')}`, start, end })
  }
  return out
}

/** The one line a scope names; REPORTS_ERR_INPUT for any other level, REPORTS_ERR_SCOPE for an unknown line. */
export function lineOfScope(deps: Pick<ReportDeps, 'model'>, scope: Scope): ScopeLine {
  if (scopeLevel(scope) !== 'line')
    throw reportError(
      'REPORTS_ERR_INPUT',
      `baselines are per line: scope ${JSON.stringify(formatScope(scope))} is a ${scopeLevel(scope)}, expected enterprise/site/line`,
    )
  return linesOf(deps.model, scope)[0] as ScopeLine
}

function lineScope(line: ScopeLine): Scope {
  return { enterprise: line.enterprise, site: line.site, line: line.line }
}

/**
 * Energy, production and hourly energy of each full period of the range: three report queries
 * (energy per day, per hour, production per day) whatever the number of periods.
 */
export async function periodData(
  deps: ReportDeps,
  line: ScopeLine,
  range: TimeRange,
  period: BaselinePeriod,
  needs: { production: boolean; hours: boolean },
): Promise<PeriodData[]> {
  const windows = periodWindows(range, period, line.timezone)
  const first = windows[0]
  const last = windows[windows.length - 1]
  if (!first || !last) throw reportError('REPORTS_ERR_INPUT', `the range holds no full ${period} in ${line.timezone}`, { start: range.start, stop: range.end })
  if (needs.production && (!line.model.product || !line.productionDevice)) {
    throw reportError('REPORTS_ERR_INPUT', `line ${line.path} has no product with a production device: production cannot be a variable`)
  }
  const full = { start: first.start, end: last.end }
  const scope = lineScope(line)
  const [days, hours, production] = await Promise.all([
    energyReport(deps, scope, full, 'day'),
    needs.hours ? energyReport(deps, scope, full, 'hour') : undefined,
    needs.production ? productionReport(deps, scope, full, 'day') : undefined,
  ])
  const inside = <T extends { start: number }>(rows: readonly T[], w: { start: number; end: number }): T[] =>
    rows.filter((r) => r.start >= w.start && r.start < w.end)
  const weighted = (rows: ReadonlyArray<{ start: number; end: number; coverage: number }>, w: { start: number; end: number }): number =>
    rows.reduce((s, r) => s + r.coverage * (r.end - r.start), 0) / (w.end - w.start)
  return windows.map((w) => {
    const d = inside<EnergyRow>(days.rows, w)
    const energyCoverage = weighted(d, w)
    const p = production
      ? inside(
          production.rows.filter((r) => r.line === line.path),
          w,
        )
      : undefined
    const productionCoverage = p ? weighted(p, w) : null
    return {
      period: w.label,
      start: w.start,
      end: w.end,
      energyKwh: d.reduce((s, r) => s + r.energyKwh, 0),
      coverage: Math.min(energyCoverage, productionCoverage ?? 1),
      energyCoverage,
      production: p ? p.reduce((s, r) => s + r.output, 0) : null,
      productionCoverage,
      hours: hours ? inside(hours.rows, w).map((h) => ({ start: h.start, end: h.end, energyKwh: h.energyKwh })) : [],
    }
  })
}

/** Hours of the period whose mean power is above the idle level (an hour counts whole). */
export function operatingHours(p: PeriodData, idleKw: number): number {
  return p.hours.reduce((s, h) => {
    const lengthH = (h.end - h.start) / HOUR_MS
    return s + (lengthH > 0 && h.energyKwh / lengthH > idleKw ? lengthH : 0)
  }, 0)
}

/** DEFAULT_IDLE_SHARE × the 95th percentile (nearest rank) of hourly mean power. */
export function defaultIdleKw(periods: readonly PeriodData[]): number {
  const kw = periods.flatMap((p) => p.hours.map((h) => h.energyKwh / ((h.end - h.start) / HOUR_MS))).sort((a, b) => a - b)
  if (kw.length === 0) return 0
  const p95 = kw[Math.min(kw.length - 1, Math.ceil(0.95 * kw.length) - 1)] as number
  return DEFAULT_IDLE_SHARE * p95
}

function variablesOf(p: PeriodData, spec: Pick<BaselineSpec, 'variables' | 'idleKw'>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of spec.variables) out[v] = v === 'production' ? (p.production ?? 0) : operatingHours(p, spec.idleKw ?? 0)
  return out
}

/** Splits periods into usable observations and those left out for missing data. */
function observations(
  periods: readonly PeriodData[],
  spec: Pick<BaselineSpec, 'variables' | 'idleKw'>,
): { used: Array<PeriodData & { observation: Observation }>; excluded: ExcludedPeriod[] } {
  const used: Array<PeriodData & { observation: Observation }> = []
  const excluded: ExcludedPeriod[] = []
  for (const p of periods) {
    const productionUsed = spec.variables.includes('production')
    const coverage = Math.min(p.energyCoverage, productionUsed ? (p.productionCoverage ?? 0) : 1)
    if (coverage < MIN_PERIOD_COVERAGE) {
      const what =
        p.energyCoverage < MIN_PERIOD_COVERAGE
          ? `energy data covers ${(p.energyCoverage * 100).toFixed(1)} %`
          : `production data covers ${((p.productionCoverage ?? 0) * 100).toFixed(1)} %`
      excluded.push({ period: p.period, start: p.start, end: p.end, reason: `${what} of the period (< ${MIN_PERIOD_COVERAGE * 100} %)` })
      continue
    }
    used.push({ ...p, observation: { period: p.period, energy: p.energyKwh, variables: variablesOf(p, spec) } })
  }
  return { used, excluded }
}

// Baseline models hold ±Infinity (t of a perfect fit) and NaN: JSON keeps them as text.
const encode = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))
const decode = <T>(text: string): T =>
  JSON.parse(text, (_k, v: unknown) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === 'NaN' ? NaN : v)) as T

function toEvent(r: StoredRevision, line: ScopeLine): StoredEvent {
  return {
    kind: BASELINE_EVENT_KIND,
    ts: r.recordedAt,
    tags: { enterprise: line.enterprise, site: line.site, line: line.line },
    fields: {
      revision: r.revision,
      model: encode(r.model),
      spec: encode(r.spec),
      reason: r.reason,
      user: r.user,
      effective_from: r.at,
      ...(r.supersedes !== undefined ? { supersedes: r.supersedes } : {}),
    },
  }
}

function fromEvent(e: StoredEvent, line: ScopeLine): StoredRevision {
  const f = e.fields
  return {
    line: line.path,
    revision: Number(f.revision),
    model: decode<BaselineModel>(String(f.model)),
    spec: decode<BaselineSpec>(String(f.spec)),
    reason: String(f.reason),
    user: String(f.user),
    at: Number(f.effective_from),
    ...(f.supersedes !== undefined ? { supersedes: Number(f.supersedes) } : {}),
    recordedAt: e.ts,
  }
}

/** The recorded revisions of a line, oldest first. */
export async function baselineHistory(events: EventLog, line: ScopeLine): Promise<StoredRevision[]> {
  const found = await events.query({ kind: BASELINE_EVENT_KIND, filter: { enterprise: line.enterprise, site: line.site, line: line.line }, order: 'asc' })
  return found.map((e) => fromEvent(e, line)).sort((a, b) => a.revision - b.revision)
}

export interface BaselineRequest {
  baselineStart: number
  baselineStop: number
  variables: readonly BaselineVariable[]
  period: BaselinePeriod
  reason: string
  /** Who records it (principal id). */
  user: string
  /** When the revision takes effect; default baselineStop (the model predicts the periods after its data). */
  effectiveFrom?: number
  /** Idle level for operating hours, kW; default DEFAULT_IDLE_SHARE × P95 of hourly mean power. */
  idleKw?: number
  thresholds?: Partial<ValidityThresholds>
}

export interface BaselineFit {
  revision: StoredRevision
  /** The observations fitted, per period. */
  observations: Array<{ period: string; start: number; end: number; energyKwh: number; variables: Record<string, number>; fitted: number; residual: number }>
  excluded: ExcludedPeriod[]
}

/**
 * Fits a baseline for the line over [baselineStart, baselineStop) and records it as the next
 * revision (event `baseline_revision`). Throws ANALYTICS_ERR_REGRESSION when the data cannot be
 * fitted (too few periods, constant variables), ANALYTICS_ERR_INPUT for an empty reason or an
 * effective time before the current revision's.
 */
export async function recordBaseline(deps: ReportDeps & { events: EventLog }, scope: Scope, req: BaselineRequest): Promise<BaselineFit> {
  const line = lineOfScope(deps, scope)
  return serialised(deps.events, line.path, () => fitAndRecord(deps, line, req))
}

// Revisions of a line are numbered from the history just read: concurrent recordings on one log
// (in this process) run one after the other, so two never take the same number.
const queues = new WeakMap<EventLog, Map<string, Promise<unknown>>>()
async function serialised<T>(events: EventLog, key: string, work: () => Promise<T>): Promise<T> {
  let queue = queues.get(events)
  if (!queue) queues.set(events, (queue = new Map()))
  const run = (queue.get(key) ?? Promise.resolve()).then(work, work)
  const tail = run.catch(() => undefined)
  queue.set(key, tail)
  try {
    return await run
  } finally {
    if (queue.get(key) === tail) queue.delete(key)
  }
}

async function fitAndRecord(deps: ReportDeps & { events: EventLog }, line: ScopeLine, req: BaselineRequest): Promise<BaselineFit> {
  if (req.variables.length === 0) throw reportError('REPORTS_ERR_INPUT', 'a baseline needs at least one relevant variable (production, operating_hours)')
  if (new Set(req.variables).size !== req.variables.length) throw reportError('REPORTS_ERR_INPUT', `variables are repeated: ${req.variables.join(', ')}`)
  if (req.reason.trim() === '') throw reportError('REPORTS_ERR_INPUT', 'a baseline revision needs a reason')
  const needs = { production: req.variables.includes('production'), hours: req.variables.includes('operating_hours') }
  const periods = await periodData(deps, line, { start: req.baselineStart, end: req.baselineStop }, req.period, needs)
  const idleKw = needs.hours ? (req.idleKw ?? defaultIdleKw(periods)) : null
  const spec: BaselineSpec = {
    period: req.period,
    variables: [...req.variables],
    idleKw,
    baselineStart: req.baselineStart,
    baselineStop: req.baselineStop,
    timezone: line.timezone,
  }
  const { used, excluded } = observations(periods, spec)
  // A constant variable (e.g. 24 operating hours a day on a continuous line) cannot be fitted: say which.
  for (const v of spec.variables) {
    const values = new Set(used.map((u) => u.observation.variables[v]))
    if (used.length > 1 && values.size === 1) {
      throw analyticsError(
        'ANALYTICS_ERR_REGRESSION',
        `variable ${v} is ${String([...values][0])} in every one of the ${used.length} baseline periods: it explains nothing, leave it out`,
        { variable: v },
      )
    }
  }
  const model = fitBaseline(
    used.map((u) => u.observation),
    spec.variables,
    req.thresholds,
  )
  const history = await baselineHistory(deps.events, line)
  const at = req.effectiveFrom ?? req.baselineStop
  const revised = reviseBaseline({ revisions: history }, model, req.reason, at).revisions
  const next = revised[revised.length - 1] as BaselineRevision
  const last = history[history.length - 1]
  // Events are keyed by (kind, tags, ts): a strictly later ts keeps every revision.
  const recordedAt = Math.max(deps.now(), (last?.recordedAt ?? -Infinity) + 1)
  const revision: StoredRevision = { ...next, line: line.path, spec, user: req.user, recordedAt }
  await deps.events.append([toEvent(revision, line)])
  return {
    revision,
    observations: used.map((u) => {
      const fitted = predict(model, u.observation.variables)
      return {
        period: u.period,
        start: u.start,
        end: u.end,
        energyKwh: u.energyKwh,
        variables: u.observation.variables,
        fitted,
        residual: u.energyKwh - fitted,
      }
    }),
    excluded,
  }
}

export interface SavingsRow {
  line: string
  period: string
  start: number
  end: number
  revision: number
  actual: number
  predicted: number
  /** predicted − actual, kWh: positive = saved. */
  savings: number
  cusum: number
  /** Normalised EnPI: actual / predicted. */
  enpi: number | null
  production: number | null
  operatingHours: number | null
  coverage: number
}

export interface SavingsResult {
  line: string
  timezone: string
  period: BaselinePeriod
  start: number
  end: number
  /** The revisions used, by number. */
  revisions: number[]
  modelValid: boolean
  modelReasons: string[]
  totalActual: number
  totalPredicted: number
  totalSavings: number
  /** 1 − actual / predicted; null when nothing was predicted. */
  savingsShare: number | null
  rows: SavingsRow[]
  excluded: ExcludedPeriod[]
}

/**
 * Savings of a line over [start, end): per full period, the revision in force at the period's start
 * predicts the energy from that period's variables; savings = predicted − actual, CUSUM their running
 * sum. Periods with too little data are listed in `excluded` and add nothing to the CUSUM.
 */
export async function savingsReport(deps: ReportDeps & { events: EventLog }, scope: Scope, range: TimeRange): Promise<SavingsResult> {
  const line = lineOfScope(deps, scope)
  const history = await baselineHistory(deps.events, line)
  if (history.length === 0) throw reportError('REPORTS_ERR_INPUT', `line ${line.path} has no recorded baseline: POST /baselines first`)
  const first = baselineAt({ revisions: history }, range.start) as StoredRevision | undefined
  if (!first) {
    throw reportError(
      'REPORTS_ERR_INPUT',
      `no baseline of line ${line.path} is in force at ${new Date(range.start).toISOString()}: the first takes effect at ${new Date((history[0] as StoredRevision).at).toISOString()}`,
    )
  }
  const inRange = history.filter((r) => r.revision >= first.revision && r.at < range.end)
  const other = inRange.find((r) => r.spec.period !== first.spec.period)
  if (other)
    throw reportError(
      'REPORTS_ERR_INPUT',
      `revisions ${first.revision} (per ${first.spec.period}) and ${other.revision} (per ${other.spec.period}) of line ${line.path} use different periods: ask for a range within one of them`,
    )
  const needs = {
    production: inRange.some((r) => r.spec.variables.includes('production')),
    hours: inRange.some((r) => r.spec.variables.includes('operating_hours')),
  }
  const periods = await periodData(deps, line, range, first.spec.period, needs)
  const rows: SavingsRow[] = []
  const excluded: ExcludedPeriod[] = []
  let cusum = 0
  let totalActual = 0
  let totalPredicted = 0
  for (const p of periods) {
    const rev = baselineAt({ revisions: history }, p.start) as StoredRevision
    const { used, excluded: out } = observations([p], rev.spec)
    excluded.push(...out)
    const u = used[0]
    if (!u) continue
    const s = savingsOf(rev.model, [u.observation]).periods[0] as ReturnType<typeof savingsOf>['periods'][number]
    cusum += s.savings
    totalActual += s.actual
    totalPredicted += s.predicted
    rows.push({
      line: line.path,
      period: p.period,
      start: p.start,
      end: p.end,
      revision: rev.revision,
      actual: s.actual,
      predicted: s.predicted,
      savings: s.savings,
      cusum,
      enpi: Number.isFinite(s.enpiRatio) ? s.enpiRatio : null,
      production: rev.spec.variables.includes('production') ? p.production : null,
      operatingHours: rev.spec.variables.includes('operating_hours') ? operatingHours(p, rev.spec.idleKw ?? 0) : null,
      coverage: u.coverage,
    })
  }
  const used = inRange.filter((r) => rows.some((row) => row.revision === r.revision))
  const reasons = used.flatMap((r) => r.model.validity.reasons.map((x) => `revision ${r.revision}: ${x}`))
  return {
    line: line.path,
    timezone: line.timezone,
    period: first.spec.period,
    start: range.start,
    end: range.end,
    revisions: used.map((r) => r.revision),
    modelValid: used.every((r) => r.model.validity.valid),
    modelReasons: reasons,
    totalActual,
    totalPredicted,
    totalSavings: totalPredicted - totalActual,
    savingsShare: totalPredicted !== 0 ? 1 - totalActual / totalPredicted : null,
    rows,
    excluded,
  }
}
