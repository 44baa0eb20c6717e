import { wallClock, wallToInstant } from '../analytics/time.ts'
import { DAY_MS } from '../core/duration.ts'
import { PlantWattError } from '../core/errors.ts'
import { isQuantity, quantityInfo } from '../core/quantities.ts'
import { deviceKey, PlantDeviceIndex, type PlantModel } from '../core/plant.ts'
import type { DeviceAddress } from '../core/topic.ts'
import type { EventLog } from '../storage/events.ts'
import { QUARTER_HOUR_MS } from '../storage/retention.ts'
import { TELEMETRY_MEASUREMENT, type TagFilter, type TelemetryStore } from '../storage/store.ts'
import { learnBaselines, type BaselineBook } from './baseline.ts'
import { relearnEveryMs } from './baseline-learner.ts'
import { AlertEngine, matchesRule, type Alert, type AlertTransition } from './engine.ts'
import { transitionToEvent } from './events.ts'
import { RecordedDrops } from './recorded-drops.ts'
import type { ResolvedRule } from './rules.ts'

/**
 * Backtest: the configured rules and the detector run over stored history exactly as they would have
 * run live — baselines learned from the history before `learnUntil`, then the samples of [from, to)
 * fed in time order with time passing every `stepMs`, the baselines learned again every `relearnEvery`
 * of the rules from the history before that instant as the service does (`relearn: 'live'`, default;
 * `'once'` keeps the first). Nothing is written unless `write` is set (then every transition goes to
 * the event log, as the service would have written it).
 */

const WEEK_MS = 7 * DAY_MS
/** Most learnings of one replay with relearn live (a month of daily learnings). */
export const MAX_RELEARNS = 31
/** Quantities the rules read. */
export const REPLAY_FIELDS = ['active_power_kw', 'power_factor', 'energy_import_kwh', 'output_t', 'output_count', 'machine_state'] as const

export interface ReplayOptions {
  store: TelemetryStore
  plant: PlantModel
  rules: readonly ResolvedRule[]
  /** Replayed range [from, to), epoch ms. */
  from: number
  to: number
  /** Baselines learn from the history before this instant (default `from`). */
  learnUntil?: number
  /**
   * live (default): learned again every shortest `relearnEvery` of the anomaly and standby rules from
   * `from` on, each time from the history before that instant (the replayed range included, as live);
   * once: only at `learnUntil`.
   */
  relearn?: 'live' | 'once'
  /** relearn live: at most this many learnings over the range, whole days apart (default MAX_RELEARNS; Infinity: every relearnEvery, however long the range). */
  maxRelearns?: number
  /** Only these devices (tags enterprise, site, line, device). */
  filter?: TagFilter
  /** Resolution the store is read at (last value per step) and time passes in, ms. Default 60 000. */
  stepMs?: number
  /**
   * The event log: the recorded meter events (replacement, reset, ratio change) are read from it so a
   * counter drop they explain raises nothing, as live (alerts/recorded-drops.ts, the service's own
   * reader); with `write`, every transition is appended to it. Without it no drop is explained.
   */
  events?: EventLog
  write?: boolean
  /**
   * How the caller calls its inputs, for the messages and `details.field` of its errors: the CLI's
   * flags (`--from`, `--learn-until`, `--device`) or the API's body fields. Default the option names.
   */
  names?: Partial<Record<ReplayInput, string>>
}

/** The inputs an error may name. */
export type ReplayInput = 'from' | 'to' | 'learnUntil' | (typeof SCOPE_KEYS)[number]
/** The tags of a filter the plant model can be checked against, outermost first. */
const SCOPE_KEYS = ['enterprise', 'site', 'line', 'device'] as const

/**
 * An alert the replay found. `value`, `threshold` and the band are those of the moment it opened
 * (not its last or closing value); their units per rule kind are given (`valueUnit`, `thresholdUnit`):
 * minutes since data for offline, minutes stuck for stuck's threshold, kW for anomaly and standby.
 */
export interface ReplayAlert extends Alert {
  valueUnit: string
  thresholdUnit: string
}

/**
 * A device the rules could not judge fully, with why (coded); or a note for every device (`device`
 * ''): a year of the history or the range that chinese-days has no holidays for (calendar), a stretch
 * read coarser than the step because the store keeps nothing finer there (resolution).
 */
export interface ReplayProblem {
  code: 'ALERTS_ERR_HISTORY' | 'ALERTS_WARN_CALENDAR' | 'ALERTS_WARN_RESOLUTION' | 'ALERTS_WARN_RELEARN'
  device: string
  message: string
}

export interface ReplayResult {
  from: number
  to: number
  learnUntil: number
  /** The plant model's time zone: local dates of the range and of the table. */
  timezone: string
  /** What `value` of each alert is: the value that opened it. */
  valueBasis: 'opened'
  /** Every alert opened in the range, in the state the range left it, its values those at opening. */
  alerts: ReplayAlert[]
  byRule: Record<string, { kind: string; alerts: number; devices: number }>
  /** Devices with data in the range. */
  devices: number
  /** devices × weeks of the range. */
  deviceWeeks: number
  alertsPerDeviceWeek: number
  samples: number
  /** Devices with too little history to learn (their anomaly and standby rules stay silent, the others run), and the notes for every device. */
  problems: ReplayProblem[]
  /** Which stretch of [from, to) was read at what resolution (`everyMs`: the step, or 15 min where nothing finer is kept). */
  resolutions: ReplayStretch[]
  /** Devices whose normal load any learning of the replay learned (at learnUntil, or again as live). */
  baselines: number
  /** How the baselines were learned (ReplayOptions.relearn), and how many times again after `learnUntil`. */
  relearn: 'live' | 'once'
  relearned: number
  /** Events appended to the event log (0 unless write). */
  written: number
}

/** A stretch of the replayed range and the resolution the store was read at there, ms. */
export interface ReplayStretch {
  from: number
  to: number
  everyMs: number
}

type SampleMap = Map<number, Map<string, { address: DeviceAddress; values: Record<string, number> }>>

/**
 * Where the store keeps nothing finer, a replay reads this: the coarsest roll-up, kept longest by both
 * backends (storage/retention.ts; the embedded store answers 1-minute windows only within
 * `minuteDays`, 400 by default, InfluxDB within its own policies).
 */
const COARSE_MS = QUARTER_HOUR_MS

/** Windows of [start, stop) from the store (last value per `everyMs`), by window start and device. */
async function readWindows(o: ReplayOptions, start: number, stop: number, everyMs: number): Promise<SampleMap> {
  const every = `${Math.max(1, Math.round(everyMs / 1000))}s`
  const rows = await o.store.aggregate({
    measurement: TELEMETRY_MEASUREMENT,
    fields: REPLAY_FIELDS,
    start,
    stop,
    every,
    fn: 'last',
    groupBy: ['enterprise', 'site', 'line', 'device'],
    timezone: o.plant.timezone,
    ...(o.filter ? { filter: o.filter } : {}),
  })
  const out: SampleMap = new Map()
  for (const r of rows) {
    let m = out.get(r.windowStart)
    if (!m) out.set(r.windowStart, (m = new Map()))
    const address = { enterprise: r.tags.enterprise ?? '', site: r.tags.site ?? '', line: r.tags.line ?? '', device: r.tags.device ?? '' }
    const k = deviceKey(address)
    let s = m.get(k)
    if (!s) m.set(k, (s = { address, values: {} }))
    s.values[r.field] = r.value
  }
  return out
}

/**
 * Reads the range day by day at the replay's step; a day the store answers nothing for at the step
 * is read again at 15 minutes (retention expired the finer data: raw points and 1-minute roll-ups go
 * first), and the first day with data at the step after none has its leading hours checked the same
 * way (the retention boundary falls inside it). Remembers which stretch was read at what resolution.
 */
class HistoryReader {
  readonly stretches: ReplayStretch[] = []
  /** The previous day had data at the step: the next one's early hours need no check. */
  private fine = false

  constructor(
    private readonly o: ReplayOptions,
    private readonly stepMs: number,
  ) {}

  async day(day: number, stop: number): Promise<SampleMap> {
    const atStep = await readWindows(this.o, day, stop, this.stepMs)
    if (this.stepMs >= COARSE_MS) return this.mark(day, stop, this.stepMs, atStep)
    if (atStep.size === 0) {
      this.fine = false
      const coarse = await readWindows(this.o, day, stop, COARSE_MS)
      return this.mark(day, stop, coarse.size > 0 ? COARSE_MS : (this.stretches.at(-1)?.everyMs ?? this.stepMs), coarse)
    }
    if (this.fine) return this.mark(day, stop, this.stepMs, atStep)
    this.fine = true
    // A 15-minute window that ends before the first window at the step holds data the step lost.
    const firstAtStep = Math.min(...atStep.keys())
    const coarse = await readWindows(this.o, day, stop, COARSE_MS)
    const lead = [...coarse.entries()].filter(([ws]) => ws + COARSE_MS <= firstAtStep)
    if (lead.length === 0) return this.mark(day, stop, this.stepMs, atStep)
    const boundary = Math.max(...lead.map(([ws]) => ws)) + COARSE_MS
    for (const [ws, m] of lead) atStep.set(ws, m)
    this.mark(day, boundary, COARSE_MS, atStep)
    return this.mark(boundary, stop, this.stepMs, atStep)
  }

  private mark(from: number, to: number, everyMs: number, samples: SampleMap): SampleMap {
    const last = this.stretches.at(-1)
    if (last && last.everyMs === everyMs && last.to === from) last.to = to
    else this.stretches.push({ from, to, everyMs })
    return samples
  }
}

/** The stretches read coarser than the step, as notes for `problems`. */
function resolutionNotes(stretches: readonly ReplayStretch[], stepMs: number, timezone: string): ReplayProblem[] {
  const minutes = (ms: number): string => `${ms / 60_000} min`
  return stretches
    .filter((s) => s.everyMs > stepMs)
    .map((s) => ({
      code: 'ALERTS_WARN_RESOLUTION',
      device: '',
      message: `${localMinute(s.from, timezone)} … ${localMinute(s.to, timezone)} (${timezone}) read at ${minutes(s.everyMs)}, not ${minutes(stepMs)}: the store keeps nothing finer there (past the retention of its raw points and finer roll-ups); each value is the last of its ${minutes(s.everyMs)}, offline and stuck judge that interval`,
    }))
}

/** Adds the entries of `from` whose keys `into` lacks (the first learning of a device stays). */
function addMissing<T>(into: Map<string, T>, from: ReadonlyMap<string, T>): void {
  for (const [k, v] of from) if (!into.has(k)) into.set(k, v)
}

/**
 * When a replay learns its baselines again (relearn live) and what all its learnings gave. Learnings
 * fall on whole days of the range (a shorter relearnEvery: daily), and, as one reads the whole history
 * (a year of a plant: seconds), a long range learns at most `maxRelearns` times; `note()` says either.
 * The first learning judges the range's first relearnEvery, as the service's learning at its start.
 */
class ReplayLearning {
  /** Every device any learning gave a baseline or an idle level (more as the history grows). */
  readonly learned: BaselineBook
  /** Learnings after the first, and the instant of the last one. */
  count = 0
  lastAt: number
  private readonly ruleEveryMs: number
  private readonly capMs: number
  private readonly everyMs: number
  private next: number

  constructor(
    private readonly o: ReplayOptions,
    learnUntil: number,
    first: BaselineBook,
  ) {
    this.learned = { ...first, anomaly: new Map(first.anomaly), idleKw: new Map(first.idleKw) }
    this.lastAt = learnUntil
    this.ruleEveryMs = (o.relearn ?? 'live') === 'live' ? relearnEveryMs(o.rules) : Infinity
    this.capMs = Math.ceil((o.to - o.from) / (o.maxRelearns ?? MAX_RELEARNS) / DAY_MS) * DAY_MS
    const r = this.ruleEveryMs
    this.everyMs = Number.isFinite(r) && r > 0 ? Math.max(Math.ceil(r / DAY_MS) * DAY_MS, this.capMs) : Infinity
    this.next = Math.max(o.from, learnUntil) + this.everyMs
  }

  /** At the start of a day of the range: the baselines learned again from the history before it, when due. */
  async at(day: number): Promise<BaselineBook | undefined> {
    if (day < this.next) return undefined
    const o = this.o
    const book = await learnBaselines({ store: o.store, plant: o.plant, rules: o.rules, now: day, usedUntil: o.to })
    addMissing(this.learned.anomaly, book.anomaly)
    addMissing(this.learned.idleKw, book.idleKw)
    this.count++
    this.lastAt = day
    this.next = day + this.everyMs
    return book
  }

  /** ALERTS_WARN_RELEARN when the replay learned less often than the service would. */
  note(): ReplayProblem | undefined {
    const { ruleEveryMs: live, everyMs } = this
    if (!(everyMs > live && this.count > 0)) return undefined
    const liveText = live % DAY_MS === 0 ? `${live / DAY_MS} day(s)` : `${Math.round(live / 60_000)} min`
    const why =
      this.capMs > Math.ceil(live / DAY_MS) * DAY_MS
        ? `a range this long learns at most ${this.o.maxRelearns ?? MAX_RELEARNS} times`
        : 'the replay learns at whole days'
    return {
      code: 'ALERTS_WARN_RELEARN',
      device: '',
      message: `baselines learned again every ${everyMs / DAY_MS} day(s), not every ${liveText} as live: ${why}`,
    }
  }
}

/** Whether a rule can judge the device with what was learned: anomaly needs its baseline, standby its idle level (unless configured). */
function canRun(rule: ResolvedRule, key: string, book: BaselineBook): boolean {
  if (rule.kind === 'anomaly') return book.anomaly.has(key)
  if (rule.kind === 'standby') return rule.idleKw !== undefined || book.idleKw.has(key)
  return true
}

/**
 * Devices whose learning rules (anomaly, standby) stay silent for too little history, each naming the
 * rules silent on it and those that ran; and whether any rule ran on any device at all.
 */
function historyProblems(
  o: ReplayOptions,
  learnUntil: number,
  book: BaselineBook,
  seen: ReadonlyMap<string, DeviceAddress>,
): { problems: ReplayProblem[]; anyRan: boolean; silentRules: string[] } {
  const index = new PlantDeviceIndex(o.plant)
  const problems: ReplayProblem[] = []
  let anyRan = false
  const silentRules = new Set<string>()
  const ids = (rules: readonly ResolvedRule[]): string => rules.map((r) => r.id).join(', ')
  for (const [key, a] of seen) {
    const matched = o.rules.filter((r) => matchesRule(r, a, index.get(a)))
    const ran = matched.filter((r) => canRun(r, key, book))
    const silent = matched.filter((r) => !canRun(r, key, book))
    if (ran.length > 0) anyRan = true
    // With its normal load learned, a device without an idle level never idled in the history: not too little of it.
    if (silent.length === 0 || book.anomaly.has(key)) continue
    for (const r of silent) silentRules.add(r.id)
    problems.push({
      code: 'ALERTS_ERR_HISTORY',
      device: key,
      message:
        `${key}: not enough history before ${localMinute(learnUntil, o.plant.timezone)} (${o.plant.timezone}) to learn its normal load ` +
        `(at least one day of windows, two weeks for the time-of-week model): ${ids(silent)} silent on it; ` +
        (ran.length > 0 ? `${ids(ran)} still ran` : 'no other rule matches it'),
    })
  }
  return { problems, anyRan, silentRules: [...silentRules] }
}

/** The caller's name of an input (a CLI flag, an API body field). */
function nameOf(o: ReplayOptions, input: ReplayInput): string {
  return o.names?.[input] ?? input
}

function checkRange(o: ReplayOptions, learnUntil: number): void {
  const tz = o.plant.timezone
  const at = (t: number): string => (Number.isFinite(t) ? localMinute(t, tz) : String(t))
  const [from, to, until] = [nameOf(o, 'from'), nameOf(o, 'to'), nameOf(o, 'learnUntil')]
  if (!(Number.isFinite(o.from) && Number.isFinite(o.to) && o.from < o.to))
    throw new PlantWattError('ALERTS_ERR_RANGE', `replay range: ${from} must be before ${to} (${from} ${at(o.from)}, ${to} ${at(o.to)}; ${tz})`, {
      details: { field: to },
    })
  if (learnUntil > o.from)
    throw new PlantWattError(
      'ALERTS_ERR_RANGE',
      `${until} (${at(learnUntil)}) must not be after ${from} (${at(o.from)}; ${tz}): the baselines would learn the replayed data`,
      { details: { field: until } },
    )
}

/**
 * ALERTS_ERR_SCOPE for the first filter value (outermost tag first) that names nothing: in no device
 * of the plant model (within the outer tags asked) and in no telemetry read. A device outside a
 * non-strict model with telemetry is replayed as any other.
 */
function scopeError(o: ReplayOptions, seen: ReadonlyMap<string, DeviceAddress>): PlantWattError | undefined {
  const f = o.filter
  if (!f) return undefined
  const devices = new PlantDeviceIndex(o.plant).devices
  const valuesOf = (k: string): readonly string[] => {
    const v = f[k]
    return v === undefined ? [] : typeof v === 'string' ? [v] : v
  }
  const tz = o.plant.timezone
  for (const [i, key] of SCOPE_KEYS.entries()) {
    const outer = SCOPE_KEYS.slice(0, i).filter((k) => valuesOf(k).length > 0)
    for (const v of valuesOf(key)) {
      const inModel = devices.some((d) => d[key] === v && outer.every((k) => valuesOf(k).includes(d[k])))
      if (inModel || [...seen.values()].some((a) => a[key] === v)) continue
      const within = outer.length > 0 ? ` within ${outer.map((k) => `${k} ${valuesOf(k).join(' | ')}`).join(', ')}` : ''
      return new PlantWattError(
        'ALERTS_ERR_SCOPE',
        `${nameOf(o, key)}: ${JSON.stringify(v)} is not a${key === 'enterprise' ? 'n' : ''} ${key} of the plant model${within}, and the store has no telemetry of it between ${localMinute(o.from, tz)} and ${localMinute(o.to, tz)} (${tz})`,
        { details: { field: nameOf(o, key), value: v } },
      )
    }
  }
  return undefined
}

/** Runs the rules over [from, to) of the store. ALERTS_ERR_RANGE, ALERTS_ERR_SCOPE (a filter value nowhere in the plant model nor the telemetry), ALERTS_ERR_NO_DATA, ALERTS_ERR_HISTORY (only rules that need learning matched, and none could learn). */
export async function replayAlerts(o: ReplayOptions): Promise<ReplayResult> {
  const learnUntil = o.learnUntil ?? o.from
  checkRange(o, learnUntil)
  const stepMs = o.stepMs ?? 60_000
  const baselines = await learnBaselines({ store: o.store, plant: o.plant, rules: o.rules, now: learnUntil, usedUntil: o.to })
  // Counter drops explained by a recorded meter event are quiet, as live: the service's reader, over the range.
  const drops = o.events ? new RecordedDrops(o.events, () => o.to, undefined, o.to - o.from + DAY_MS) : undefined
  await drops?.refresh()
  const engine = new AlertEngine({
    plant: o.plant,
    rules: o.rules,
    baselines,
    ...(drops ? { explainsDrop: (key: string, q: string, a: number, b: number) => drops.explains(key, q, a, b) } : {}),
  })
  const opened = new Map<string, Alert>()
  const atOpening = new Map<string, Alert>()
  const transitions: AlertTransition[] = []
  const seen = new Map<string, DeviceAddress>()
  const take = (list: AlertTransition[]): void => {
    for (const t of list) {
      if (t.event === 'opened') atOpening.set(t.alert.id, t.alert)
      if (t.event === 'opened' || opened.has(t.alert.id)) opened.set(t.alert.id, t.alert)
      if (o.write) transitions.push(t)
    }
  }
  let samples = 0
  const reader = new HistoryReader(o, stepMs)
  const learning = new ReplayLearning(o, learnUntil, baselines)
  for (let day = o.from; day < o.to; day += DAY_MS) {
    const stop = Math.min(o.to, day + DAY_MS)
    // Learned again as the service does, from the history before that instant.
    const book = await learning.at(day)
    if (book) engine.setBaselines(book)
    const byStep = await reader.day(day, stop)
    // The store's windows align on local midnight, the range need not (an API caller's ISO instant):
    // each window is fed at the first step that reaches it, never before that step's tick.
    const starts = [...byStep.keys()].sort((x, y) => x - y)
    let next = 0
    for (let t = day; t < stop; t += stepMs) {
      take(engine.tick(t))
      for (; next < starts.length && (starts[next] as number) < t + stepMs; next++) {
        const ws = starts[next] as number
        for (const s of byStep.get(ws)?.values() ?? []) {
          seen.set(deviceKey(s.address), s.address)
          samples++
          take(engine.ingest(s.address, { ts: Math.max(ws, t), values: s.values }))
        }
      }
    }
  }
  take(engine.tick(o.to))
  const unknown = scopeError(o, seen)
  if (unknown) throw unknown
  if (samples === 0) {
    const asked = Object.entries(o.filter ?? {}).map(([k, v]) => `${k} ${[v].flat().join(' | ')}`)
    throw new PlantWattError(
      'ALERTS_ERR_NO_DATA',
      `no telemetry between ${localMinute(o.from, o.plant.timezone)} and ${localMinute(o.to, o.plant.timezone)} (${o.plant.timezone})${asked.length > 0 ? ` for ${asked.join(', ')}` : ''}`,
    )
  }
  const { problems, anyRan, silentRules } = historyProblems(o, learning.lastAt, learning.learned, seen)
  // Only when nothing could run: every rule that matched a device needs a learned baseline and none learned.
  if (problems.length > 0 && !anyRan) {
    throw new PlantWattError(
      'ALERTS_ERR_HISTORY',
      `no device has enough history before ${localMinute(learning.lastAt, o.plant.timezone)} (${o.plant.timezone}) to learn its normal load, and every rule that matched them needs it (${silentRules.join(', ')}), so none ran:\n${problems.map((p) => `  ${p.device}`).join('\n')}`,
      { details: problems },
    )
  }
  let written = 0
  if (o.write && o.events && transitions.length > 0) {
    await o.events.append(transitions.map(transitionToEvent))
    written = transitions.length
  }
  const alerts = [...opened.values()].map((a) => asOpened(a, atOpening.get(a.id) ?? a))
  const calendar = (baselines.warnings ?? []).map((message): ReplayProblem => ({ code: 'ALERTS_WARN_CALENDAR', device: '', message }))
  const relearnNote = learning.note()
  const notes = [...(relearnNote ? [relearnNote] : []), ...resolutionNotes(reader.stretches, stepMs, o.plant.timezone), ...calendar, ...problems]
  return {
    ...summarise(o, learnUntil, alerts, seen.size, samples, notes, learning.learned.anomaly.size, written),
    resolutions: reader.stretches,
    relearn: o.relearn ?? 'live',
    relearned: learning.count,
  }
}

/** Unit of a quantity (core/quantities.ts), '' when unknown or dimensionless. */
function unitOf(quantity: string): string {
  return isQuantity(quantity) ? quantityInfo(quantity).unit : ''
}

/** The alert in its last state with the value, limit and band it opened with, and their units. */
function asOpened(last: Alert, first: Alert): ReplayAlert {
  const unit = unitOf(last.quantity)
  const units: Record<string, [string, string]> = {
    offline: ['min', 'min'],
    stuck: [unit, 'min'],
    rate: [`${unit}/min`, `${unit}/min`],
    power_factor: ['', ''],
    anomaly: ['kW', 'kW'],
    standby: ['kW', 'kW'],
    demand: ['kW', 'kW'],
  }
  const [valueUnit, thresholdUnit] = units[last.ruleKind] ?? [unit, unit]
  const { threshold: _t, expectedLow: _l, expectedHigh: _h, ...rest } = last
  return {
    ...rest,
    value: first.value,
    ...(first.threshold !== undefined ? { threshold: first.threshold } : {}),
    ...(first.expectedLow !== undefined ? { expectedLow: first.expectedLow } : {}),
    ...(first.expectedHigh !== undefined ? { expectedHigh: first.expectedHigh } : {}),
    valueUnit,
    thresholdUnit,
  }
}

function summarise(
  o: ReplayOptions,
  learnUntil: number,
  alerts: ReplayAlert[],
  devices: number,
  samples: number,
  problems: ReplayProblem[],
  baselines: number,
  written: number,
): Omit<ReplayResult, 'resolutions' | 'relearn' | 'relearned'> {
  const byRule: ReplayResult['byRule'] = {}
  const devicesOf = new Map<string, Set<string>>()
  for (const rule of o.rules) byRule[rule.id] = { kind: rule.kind, alerts: 0, devices: 0 }
  for (const a of alerts) {
    const r = (byRule[a.rule] ??= { kind: a.ruleKind, alerts: 0, devices: 0 })
    r.alerts++
    const set = devicesOf.get(a.rule) ?? new Set()
    set.add(deviceKey(a.address))
    devicesOf.set(a.rule, set)
    r.devices = set.size
  }
  const deviceWeeks = (devices * (o.to - o.from)) / WEEK_MS
  alerts.sort((a, b) => a.openedAt - b.openedAt)
  return {
    from: o.from,
    to: o.to,
    learnUntil,
    timezone: o.plant.timezone,
    valueBasis: 'opened',
    alerts,
    byRule,
    devices,
    deviceWeeks,
    alertsPerDeviceWeek: deviceWeeks > 0 ? alerts.length / deviceWeeks : 0,
    samples,
    problems,
    baselines,
    written,
  }
}

/** `YYYY-MM-DD HH:MM` on the plant's wall clock. */
function localMinute(t: number, timezone: string): string {
  return new Date(wallClock(t, timezone)).toISOString().slice(0, 16).replace('T', ' ')
}

/** The replay as a text table: per rule, then every alert (at most `maxRows`), times local to the plant. */
export function formatReplayTable(r: ReplayResult, maxRows = 200): string {
  const local = (t: number): string => localMinute(t, r.timezone)
  // A power factor (no unit) with two decimals, the rest with one and their unit.
  const num = (v: number | undefined, unit: string): string => (v === undefined ? '' : unit ? `${v.toFixed(1)} ${unit}` : v.toFixed(2))
  const band = (a: ReplayAlert): string =>
    a.expectedLow === undefined || a.expectedHigh === undefined ? '' : `${a.expectedLow.toFixed(1)}–${a.expectedHigh.toFixed(1)} ${a.thresholdUnit}`.trim()
  const lines = [
    `replay ${local(r.from)} … ${local(r.to)} (${r.timezone}), learned from history before ${local(r.learnUntil)}${r.relearned > 0 ? `, again ${r.relearned} time(s) as live` : ''}: ${r.devices} device(s), ${r.baselines} baseline(s), ${r.samples} samples`,
    `${r.alerts.length} alert(s), ${r.alertsPerDeviceWeek.toFixed(2)} per device-week (${r.deviceWeeks.toFixed(1)} device-weeks)`,
    '',
    'rule                          kind          alerts  devices',
  ]
  for (const [id, s] of Object.entries(r.byRule))
    lines.push(`${id.padEnd(30)}${s.kind.padEnd(14)}${String(s.alerts).padStart(6)}${String(s.devices).padStart(9)}`)
  for (const p of r.problems) lines.push(`! ${p.code} ${p.message}`)
  if (r.alerts.length > 0)
    lines.push(
      '',
      `opened (${r.timezone})`.padEnd(24) +
        `${'closed'.padEnd(18)}${'rule'.padEnd(28)}${'device'.padEnd(36)}${'value at opening'.padStart(18)}${'limit / expected'.padStart(18)}  band`,
    )
  for (const a of r.alerts.slice(0, maxRows)) {
    lines.push(
      local(a.openedAt).padEnd(24) +
        (a.resolvedAt === undefined ? '(open)' : local(a.resolvedAt)).padEnd(18) +
        a.rule.padEnd(28) +
        deviceKey(a.address).padEnd(36) +
        num(a.value, a.valueUnit).padStart(18) +
        num(a.threshold, a.thresholdUnit).padStart(18) +
        `  ${band(a)}`.trimEnd(),
    )
  }
  if (r.alerts.length > maxRows) lines.push(`… ${r.alerts.length - maxRows} more (--json lists all)`)
  return `${lines.join('\n')}\n`
}

/**
 * A replay bound: ISO 8601 with an offset or Z (that instant), or a local date / date and time
 * (`2018-07-02`, `2018-07-02 08:00`, `2018-07-02T08:00`) in the plant's zone. ALERTS_ERR_RANGE naming
 * `name` otherwise, also for a date that does not exist (month 13, 30 February, 25:00).
 */
export function parseReplayInstant(text: string, timezone: string, name = 'time'): number {
  const t = text.trim()
  const local = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(t)
  const iso = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/.exec(t)
  const parts = (local ?? iso)?.slice(1, 7).map((v) => Number(v ?? 0))
  if (parts) {
    const [y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0] = parts
    const naive = Date.UTC(y, mo - 1, d, h, mi, se)
    const back = new Date(naive)
    // Date.UTC (and Date.parse) roll month 13 into January and 30 February into March: the parts must come back as given.
    const exists =
      back.getUTCFullYear() === y &&
      back.getUTCMonth() === mo - 1 &&
      back.getUTCDate() === d &&
      back.getUTCHours() === h &&
      back.getUTCMinutes() === mi &&
      back.getUTCSeconds() === se
    if (!exists)
      throw new PlantWattError(
        'ALERTS_ERR_RANGE',
        `${name}: ${JSON.stringify(text)} is not a date that exists (month 01–12, a day of that month, 00:00–23:59)`,
        {
          details: { field: name },
        },
      )
    if (local) return wallToInstant(naive, timezone)
    const ms = Date.parse(t)
    if (!Number.isNaN(ms)) return ms
  }
  throw new PlantWattError(
    'ALERTS_ERR_RANGE',
    `${name}: ${JSON.stringify(text)} is not a date (YYYY-MM-DD[ HH:MM], local to the plant) nor ISO 8601 with an offset`,
    { details: { field: name } },
  )
}
