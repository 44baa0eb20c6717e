import Type from 'typebox'
import { validateConfig } from '../core/config.ts'
import { DAY_MS } from '../core/duration.ts'
import { isPlantWattError, PlantWattError } from '../core/errors.ts'
import { deviceKey, type PlantModel } from '../core/plant.ts'
import type { DeviceAddress } from '../core/topic.ts'
import type { EventLog } from '../storage/events.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { findBenchmark, localParts, startOfLocalDate, type Sample, type TimeRange } from '../analytics/index.ts'
import { counterReadings, energyReport, type EnergyReport, type ReportDeps } from './energy.ts'
import { gradeAgainstReference, productionWithEntries, secOf, type ReferenceGrade, type SecRow } from './sec.ts'
import { comprehensiveReport, comprehensiveReports, lineFlowsOfReport, type ComprehensiveReport } from './comprehensive.ts'
export { gradeAgainstReference, type GradeBasis, type ReferenceGrade } from './sec.ts'
import { reportError } from './errors.ts'
import { ConditionSchema, qualify, type Condition, type GradeLevel, type Qualification, type QualificationInput, type RuleResult } from './qualification.ts'
import { allLines, type ScopeLine } from './scope.ts'

/**
 * The commission scope (省经信委): every enterprise at once — NC and networking rates of key
 * equipment, SEC grade per product, energy, open alerts, qualification as smart factory / digital
 * workshop, progress against the target and a ranking. See COMMISSION.md for formulas and defaults.
 */

// Defaults of the qualification rules. NC rate ≥ 70 %: the 2015 Hubei "Smart Hubei" opinion's target for
// key-industry equipment (../shared/DOMAIN.md). Networking 70 % / 80 %, the grade condition and mesDeployed
// are placeholders to be set by the commission: no published provincial criteria were verified.
export const DEFAULT_DIGITAL_WORKSHOP: readonly Condition[] = [
  { metric: 'ncRate', min: 0.7 },
  { metric: 'networkingRate', min: 0.7 },
]
export const DEFAULT_SMART_FACTORY: readonly Condition[] = [
  { metric: 'ncRate', min: 0.7 },
  { metric: 'networkingRate', min: 0.8 },
  { grades: 'compliant' },
  { attribute: 'mesDeployed', equals: true },
]

export const COMMISSION_PERIODS = ['last-month', 'last-week', 'last-day'] as const
export type CommissionPeriod = (typeof COMMISSION_PERIODS)[number]

export const CommissionConfigSchema = Type.Object(
  {
    target: Type.Integer({ minimum: 1, default: 100, description: 'qualified smart factories + digital workshops the programme aims for' }),
    networkingWindowS: Type.Integer({
      minimum: 1,
      default: 300,
      description: 'a key device counts as networked when its newest telemetry sample is at most this old, in seconds',
    }),
    period: Type.Enum(COMMISSION_PERIODS, {
      default: 'last-month',
      description: 'the complete calendar period (plant time zone) SEC, grades and energy are computed over',
    }),
    ranking: Type.Object(
      {
        ncRate: Type.Number({ minimum: 0, default: 40, description: 'weight of the NC rate in the composite score' }),
        networkingRate: Type.Number({ minimum: 0, default: 30, description: 'weight of the networking rate' }),
        grades: Type.Number({ minimum: 0, default: 30, description: 'weight of the grade score (benchmark 1, compliant 0.5, below baseline or no SEC 0)' }),
      },
      { additionalProperties: false, default: {} },
    ),
    rules: Type.Object(
      {
        smartFactory: Type.Array(ConditionSchema, { default: DEFAULT_SMART_FACTORY, description: 'conditions that must all hold for 智能工厂' }),
        digitalWorkshop: Type.Array(ConditionSchema, { default: DEFAULT_DIGITAL_WORKSHOP, description: 'conditions that must all hold for 数字化车间' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
)

export type CommissionConfig = Type.Static<typeof CommissionConfigSchema>

/** What a caller may give: any part of the config (the rest is defaulted). */
export type CommissionConfigInput = Partial<Omit<CommissionConfig, 'ranking' | 'rules'>> & {
  ranking?: Partial<CommissionConfig['ranking']>
  rules?: Partial<CommissionConfig['rules']>
}

/** Fills defaults and validates; throws CORE_ERR_CONFIG naming every bad key (a metric condition needs min or max). */
export function resolveCommissionConfig(input: CommissionConfigInput = {}, source = 'commission'): Readonly<CommissionConfig> {
  const config = validateConfig(CommissionConfigSchema, input, source)
  const problems: Array<{ path: string; message: string }> = []
  for (const rule of ['smartFactory', 'digitalWorkshop'] as const) {
    config.rules[rule].forEach((c, i) => {
      if ('metric' in c && c.min === undefined && c.max === undefined)
        problems.push({ path: `/rules/${rule}/${i}`, message: 'a metric condition needs min or max' })
    })
  }
  const w = config.ranking
  if (w.ncRate + w.networkingRate + w.grades <= 0) problems.push({ path: '/ranking', message: 'at least one weight must be > 0' })
  if (problems.length > 0) {
    throw new PlantWattError('CORE_ERR_CONFIG', `${source}: ${problems.length} problem(s)\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, {
      details: problems,
    })
  }
  return config
}

/** The last complete period before `now` in the plant's time zone: calendar month, ISO week (from Monday) or day. */
export function commissionPeriod(now: number, period: CommissionPeriod, timezone: string): TimeRange {
  const p = localParts(now, timezone)
  if (period === 'last-month') return { start: startOfLocalDate(p.year, p.month - 1, 1, timezone), end: startOfLocalDate(p.year, p.month, 1, timezone) }
  if (period === 'last-day') return { start: startOfLocalDate(p.year, p.month, p.day - 1, timezone), end: startOfLocalDate(p.year, p.month, p.day, timezone) }
  // ISO weekday of the local date: 1970-01-01 was a Thursday (4).
  const dayNumber = Math.floor(p.naive / DAY_MS)
  const isoWeekday = ((dayNumber + 3) % 7) + 1
  const monday = p.day - (isoWeekday - 1)
  return { start: startOfLocalDate(p.year, p.month, monday - 7, timezone), end: startOfLocalDate(p.year, p.month, monday, timezone) }
}

/** One line with a product: its SEC over the period and, when it has a benchmark, its grade. */
export interface LineSec extends ReferenceGrade {
  /** enterprise/site/line */
  line: string
  lineName: string
  product: string
  productName: string
  /** Output unit of the product: t or pcs. */
  outputUnit: string
  /** Reference product id (analytics/reference/benchmarks.ts); null = not graded. */
  reference: string | null
  energyKwh: number
  output: number
  /** 0..1: the lower of the energy and the production data coverage over the period. */
  coverage: number
  /** SEC in secUnit; null without output in the period. */
  sec: number | null
  /** The reference's unit (kWh/t, kgce/t) when graded, else kWh/<output unit>. */
  secUnit: string
  /** Graded against NDRC values the reference data flags as unverified. */
  unverified: boolean
  /** Why there is no grade, when there is none although the line has a reference. */
  note: string | null
}

const EMPTY_GRADE: ReferenceGrade = { grade: null, basis: null, benchmark: null, baseline: null, gapToBenchmarkPct: null, gapToBaselinePct: null }

/**
 * SEC and grade of every line of an enterprise that has a product, over a range: reports/sec.ts
 * (secOf: line energy from its main meter / output; kgce indicators at 0.1229 kgce/kWh, electricity
 * only) for the values, graded by gradeAgainstReference (NDRC levels, else GB level 1 / level 3).
 */
export async function lineSecGrades(deps: ReportDeps, enterprise: string, range: TimeRange): Promise<LineSec[]> {
  return (await enterpriseEnergyAndSec(deps, enterprise, range)).lines
}

/** The enterprise's energy over the range and its lines' SEC, from one energy and one production report. */
async function enterpriseEnergyAndSec(
  deps: ReportDeps,
  enterprise: string,
  range: TimeRange,
  known?: ComprehensiveReport,
): Promise<{ energyKwh: number; coverage: number; tce: number; lines: LineSec[] }> {
  const all = allLines(deps.model).filter((l) => l.enterprise === enterprise)
  const withProduct = all.filter((l) => l.model.product !== undefined)
  if (all.length === 0) return { energyKwh: 0, coverage: 0, tce: 0, lines: [] }
  // The boundary comprehensive energy (GB/T 2589-2020): the sites' incomers by carrier (else the sum of their lines), every carrier metered or entered.
  const comprehensive = known ?? (await comprehensiveReport(deps, { enterprise }, range, 'total'))
  const tce = comprehensive.tce
  let energy: EnergyReport | undefined
  try {
    energy = await energyReport(deps, { enterprise }, range, 'total')
  } catch (err) {
    // An enterprise without energy meters: no energy, not an error of the whole commission scope.
    if (!(isPlantWattError(err) && err.code === 'REPORTS_ERR_SCOPE')) throw err
  }
  const unmeasured = (note: string): LineSec[] => withProduct.map((l) => noSec(l, note))
  if (!energy) return { energyKwh: 0, coverage: 0, tce, lines: unmeasured('the enterprise has no energy meter') }
  const production = withProduct.length === 0 ? [] : await productionWithEntries(deps, { enterprise }, range, 'total')
  let rows: SecRow[]
  try {
    rows = secOf(deps, { enterprise }, energy, production, lineFlowsOfReport(comprehensive)).rows
  } catch (err) {
    // A product naming a benchmark the reference data lacks: reported on the lines, the others go on.
    if (!(isPlantWattError(err) && err.code === 'ANALYTICS_ERR_BENCHMARK')) throw err
    return { energyKwh: energy.energyKwh, coverage: energy.coverage, tce, lines: unmeasured(err.message) }
  }
  const byPath = new Map(withProduct.map((l) => [l.path, l]))
  const lines = rows.flatMap((r) => {
    const l = byPath.get(r.line)
    return l ? [fromSecRow(deps, l, r)] : []
  })
  return { energyKwh: energy.energyKwh, coverage: energy.coverage, tce, lines }
}

function lineBase(l: ScopeLine) {
  const product = l.model.product as NonNullable<ScopeLine['model']['product']>
  return {
    line: l.path,
    lineName: l.name,
    product: product.id,
    productName: product.name ?? product.id,
    outputUnit: product.unit,
    reference: product.benchmark ?? null,
  }
}

function noSec(l: ScopeLine, note: string): LineSec {
  return {
    ...lineBase(l),
    energyKwh: 0,
    output: 0,
    coverage: 0,
    ...EMPTY_GRADE,
    unverified: false,
    sec: null,
    secUnit: `kWh/${l.model.product?.unit ?? 'unit'}`,
    note,
  }
}

function fromSecRow(deps: ReportDeps, l: ScopeLine, r: SecRow): LineSec {
  const base = { ...lineBase(l), energyKwh: r.energyKwh, output: r.output, coverage: r.coverage }
  const plainUnit = `kWh/${r.unit}`
  const bench = r.benchmarkProduct !== null ? findBenchmark(r.benchmarkProduct, deps.reference?.benchmarks) : undefined
  if (bench && r.value !== null) {
    const g = gradeAgainstReference(r.value, bench)
    return { ...base, ...g, unverified: g.basis === 'ndrc' && bench.ndrc?.verified === false, sec: r.value, secUnit: bench.unit, note: r.note }
  }
  // No benchmark, no output, or a benchmark in another unit than the product's: kWh per unit, no grade.
  return { ...base, ...EMPTY_GRADE, unverified: false, sec: r.secKwhPerUnit, secUnit: bench && r.secKwhPerUnit === null ? bench.unit : plainUnit, note: r.note }
}

/** A key device with whether it reports. */
export interface KeyEquipmentStatus {
  /** enterprise/site/line/device */
  path: string
  line: string
  device: string
  name: string
  kind: string
  ncCapable: boolean
  /** Newest telemetry sample within the networking window, epoch ms; null = none. */
  lastSeen: number | null
  networked: boolean
}

/**
 * Newest sample time of every device of the enterprises, from the `seq` field every telemetry
 * message carries (core/payload.ts), among samples newer than `since`. One store query.
 */
export async function lastSeenSince(deps: ReportDeps, enterprises: readonly string[], since: number): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  if (enterprises.length === 0) return out
  const rows = await deps.store.latest({ measurement: TELEMETRY_MEASUREMENT, filter: { enterprise: [...enterprises] }, fields: ['seq'], since })
  for (const r of rows) {
    const { enterprise, site, line, device } = r.tags
    if (!enterprise || !site || !line || !device) continue
    const key = deviceKey({ enterprise, site, line, device })
    out.set(key, Math.max(out.get(key) ?? 0, r.ts))
  }
  return out
}

const CLOSED_EVENTS = new Set(['cleared', 'resolved', 'closed'])

/**
 * Open alerts per enterprise from the alert engine's `alert_event` events (tags enterprise, …,
 * event = opened | acknowledged | cleared; field alert_id): an alert is open when its newest event is
 * not cleared/resolved. One event-log query; 0 for every enterprise when the log has no alert events.
 */
export async function openAlertCounts(events: EventLog | undefined, enterprises: readonly string[]): Promise<Map<string, number>> {
  const out = new Map(enterprises.map((e) => [e, 0]))
  if (!events || enterprises.length === 0) return out
  const all = await events.query({ kind: 'alert_event', filter: { enterprise: [...enterprises] }, order: 'asc' })
  const newest = new Map<string, { enterprise: string; event: string }>()
  for (const e of all) {
    const enterprise = e.tags.enterprise
    if (enterprise === undefined) continue
    const id = typeof e.fields.alert_id === 'string' ? e.fields.alert_id : `${enterprise}/${e.tags.site}/${e.tags.line}/${e.tags.device}/${e.tags.rule}`
    const event = e.tags.event ?? (typeof e.fields.event === 'string' ? e.fields.event : 'opened')
    newest.set(`${enterprise}|${id}`, { enterprise, event })
  }
  for (const { enterprise, event } of newest.values()) {
    if (!CLOSED_EVENTS.has(event)) out.set(enterprise, (out.get(enterprise) ?? 0) + 1)
  }
  return out
}

/** Everything the commission sees of one enterprise. */
export interface EnterpriseFigures {
  enterprise: string
  name: string
  industry: string | null
  region: string
  attributes: Record<string, number | boolean | string>
  keyEquipment: number
  ncCapable: number
  networked: number
  /** NC-capable key equipment / key equipment (0..1); null without key equipment. */
  ncRate: number | null
  /** Key equipment reporting within networkingWindowS / key equipment (0..1); null without key equipment. */
  networkingRate: number | null
  /** Energy of the enterprise over the period (its lines' main meters), kWh. */
  energyKwh: number
  /**
   * Comprehensive energy of the enterprise boundary, tce (GB/T 2589-2020, electricity at the equivalent
   * value 0.1229 kgce/kWh): every carrier metered or entered, from the sites' incomers by carrier where
   * there are incomers, else the sum of the lines; exports subtracted (reports/comprehensive.ts).
   */
  energyTce: number
  /** 0..1 data coverage of the energy figure. */
  energyCoverage: number
  openAlerts: number
  lines: LineSec[]
  equipment: KeyEquipmentStatus[]
  qualifiedAs: Qualification
  rules: RuleResult[]
  /** Composite score 0..100 (COMMISSION.md); rank 1 = highest. */
  score: number
  rank: number
}

export interface CommissionProgress {
  target: number
  smartFactories: number
  digitalWorkshops: number
  qualified: number
  /** qualified / target × 100 (may exceed 100). */
  progressPct: number
}

export interface CommissionReport {
  period: TimeRange & { timezone: string }
  networkingWindowS: number
  /** When the networking rate was measured, epoch ms. */
  measuredAt: number
  progress: CommissionProgress
  /** Ranked: rank 1 first. */
  enterprises: EnterpriseFigures[]
}

export interface CommissionDeps extends ReportDeps {
  /** The event log with the alert engine's events; absent = no alert counts. */
  events?: EventLog
}

const GRADE_SCORE: Readonly<Record<GradeLevel, number>> = { benchmark: 1, compliant: 0.5, below_baseline: 0 }

/**
 * Composite score 0..100: weighted mean of NC rate, networking rate and grade score (mean over graded
 * products of benchmark 1 / compliant 0.5 / below baseline or no SEC 0); a part the enterprise has
 * nothing for (no key equipment, no graded product) drops out and the other weights are rescaled.
 */
export function compositeScore(f: Pick<EnterpriseFigures, 'ncRate' | 'networkingRate' | 'lines'>, weights: CommissionConfig['ranking']): number {
  const graded = f.lines.filter((l) => l.reference !== null)
  const gradeScore = graded.length === 0 ? null : graded.reduce((s, l) => s + (l.grade === null ? 0 : GRADE_SCORE[l.grade]), 0) / graded.length
  const parts: Array<[number | null, number]> = [
    [f.ncRate, weights.ncRate],
    [f.networkingRate, weights.networkingRate],
    [gradeScore, weights.grades],
  ]
  let sum = 0
  let weight = 0
  for (const [v, w] of parts) {
    if (v === null || w === 0) continue
    sum += v * w
    weight += w
  }
  return weight === 0 ? 0 : (sum / weight) * 100
}

/**
 * Reads the counters of every enterprise at once — energy meters and production counters, two or three
 * store round trips instead of as many per enterprise — and hands each enterprise's share to its
 * energyReport / productionReport through ReportDeps.memo. The memo key and device lists mirror
 * reports/energy.ts (counterReadings, energyReport's meters, productionReport's counters); should they
 * ever differ the reports read again by themselves: slower, same answer.
 */
async function prefetchCounters(deps: ReportDeps, range: TimeRange): Promise<ReportDeps> {
  const memo: NonNullable<ReportDeps['memo']> = deps.memo ?? new Map()
  const lines = allLines(deps.model)
  const perEnterprise = new Map<string, Map<string, DeviceAddress[]>>()
  const add = (enterprise: string, quantity: string, d: DeviceAddress): void => {
    let byQuantity = perEnterprise.get(enterprise)
    if (!byQuantity) perEnterprise.set(enterprise, (byQuantity = new Map()))
    const list = byQuantity.get(quantity) ?? []
    list.push({ enterprise: d.enterprise, site: d.site, line: d.line, device: d.device })
    byQuantity.set(quantity, list)
  }
  for (const l of lines) {
    for (const d of l.devices) if (d.kind === 'meter' || d.mainMeter) add(l.enterprise, 'energy_import_kwh', d)
  }
  for (const quantity of ['output_t', 'output_count'] as const) {
    for (const l of lines) {
      if (!l.productionDevice || !l.model.product || (l.model.product.unit === 't') !== (quantity === 'output_t')) continue
      add(l.enterprise, quantity, l.productionDevice)
    }
  }
  const quantities = ['energy_import_kwh', 'output_t', 'output_count']
  const bulk = await Promise.all(
    quantities.map((q) => {
      const all = [...perEnterprise.values()].flatMap((m) => m.get(q) ?? [])
      return counterReadings({ ...deps, memo: undefined }, all, q, range)
    }),
  )
  quantities.forEach((q, i) => {
    const readings = bulk[i] as Map<string, Sample[]>
    for (const byQuantity of perEnterprise.values()) {
      const devices = byQuantity.get(q)
      if (!devices) continue
      const keys = devices.map(deviceKey)
      const share = new Map<string, Sample[]>()
      for (const k of keys) {
        const samples = readings.get(k)
        if (samples) share.set(k, samples)
      }
      memo.set(`${q}|${range.start}|${range.end}|${keys.join(',')}`, Promise.resolve(share))
    }
  })
  return { ...deps, memo }
}

/**
 * The commission report over every enterprise of the model: figures, qualification, score and rank.
 * `range` defaults to the configured period before now. Cost: per enterprise three or four store
 * queries (energy, production); one for networking and one event-log query for all enterprises.
 */
export async function commissionReport(deps: CommissionDeps, config: Readonly<CommissionConfig>, range?: TimeRange): Promise<CommissionReport> {
  const model: PlantModel = deps.model
  const now = deps.now()
  const period = range ?? commissionPeriod(now, config.period, model.timezone)
  if (!(period.end > period.start)) throw reportError('REPORTS_ERR_INPUT', `commission period: end (${period.end}) must be after start (${period.start})`)
  const ids = model.enterprises.map((e) => e.id)
  const [seen, alerts, shared] = await Promise.all([
    lastSeenSince(deps, ids, now - config.networkingWindowS * 1000),
    openAlertCounts(deps.events, ids),
    prefetchCounters(deps, period),
  ])
  const lines = allLines(model)
  // Every enterprise's boundary comprehensive energy in one discovery and one read per carrier.
  const withLines = model.enterprises.filter((e) => lines.some((l) => l.enterprise === e.id)).map((e) => ({ enterprise: e.id }))
  const comprehensive = new Map((await comprehensiveReports(shared, withLines, period, 'total')).map((r) => [r.scope, r]))
  const figures: EnterpriseFigures[] = []
  for (const e of model.enterprises) {
    const equipment: KeyEquipmentStatus[] = lines
      .filter((l) => l.enterprise === e.id)
      .flatMap((l) => l.devices.filter((d) => d.keyEquipment).map((d) => ({ l, d })))
      .map(({ l, d }) => {
        const lastSeen = seen.get(deviceKey(d)) ?? null
        return {
          path: deviceKey(d),
          line: l.path,
          device: d.device,
          name: d.name,
          kind: d.kind,
          ncCapable: d.ncCapable,
          lastSeen,
          networked: lastSeen !== null && now - lastSeen <= config.networkingWindowS * 1000,
        }
      })
    const key = equipment.length
    const nc = equipment.filter((x) => x.ncCapable).length
    const networked = equipment.filter((x) => x.networked).length
    const { energyKwh, coverage: energyCoverage, tce, lines: lineSecs } = await enterpriseEnergyAndSec(shared, e.id, period, comprehensive.get(e.id))
    const base = {
      ncRate: key === 0 ? null : nc / key,
      networkingRate: key === 0 ? null : networked / key,
      lines: lineSecs,
    }
    const input: QualificationInput = {
      ...base,
      openAlerts: alerts.get(e.id) ?? 0,
      keyEquipment: key,
      grades: lineSecs.filter((l) => l.reference !== null).map((l) => ({ line: l.line, product: l.product, grade: l.grade })),
      attributes: e.attributes,
    }
    const q = qualify(config.rules, input)
    figures.push({
      enterprise: e.id,
      name: e.name ?? e.id,
      industry: e.industry ?? null,
      region: e.region,
      attributes: { ...e.attributes },
      keyEquipment: key,
      ncCapable: nc,
      networked,
      ...base,
      energyKwh,
      energyTce: tce,
      energyCoverage,
      openAlerts: input.openAlerts,
      equipment,
      qualifiedAs: q.qualifiedAs,
      rules: q.rules,
      score: compositeScore(base, config.ranking),
      rank: 0,
    })
  }
  figures.sort((a, b) => b.score - a.score || (a.enterprise < b.enterprise ? -1 : a.enterprise > b.enterprise ? 1 : 0))
  figures.forEach((f, i) => {
    f.rank = i + 1
  })
  const smartFactories = figures.filter((f) => f.qualifiedAs === 'smart_factory').length
  const digitalWorkshops = figures.filter((f) => f.qualifiedAs === 'digital_workshop').length
  return {
    period: { ...period, timezone: model.timezone },
    networkingWindowS: config.networkingWindowS,
    measuredAt: now,
    progress: {
      target: config.target,
      smartFactories,
      digitalWorkshops,
      qualified: smartFactories + digitalWorkshops,
      progressPct: ((smartFactories + digitalWorkshops) / config.target) * 100,
    },
    enterprises: figures,
  }
}
