import {
  analyticsError,
  compileTariff,
  DEFAULT_REFERENCE,
  pricePieces,
  touCost,
  type Bucket,
  type CompiledTariff,
  type Increment,
  type ReferenceData,
  type Tariff,
  type TimeRange,
} from '../analytics/index.ts'
import { deviceKey } from '../core/plant.ts'
import { cacheAnswer, cachedAnswer, ceilQuarter, ensureRollup, floorQuarter } from './counter-rollup.ts'
import {
  lineEnergyDevices,
  READING_LOOKBACK_MS,
  READING_STEP_MS,
  scopeBuckets,
  scopeEnergyIntervals,
  scopeTimezone,
  type ReportDeps,
  type ReportGranularity,
} from './energy.ts'
import { formatScope, linesOf, type Scope, type ScopeLine } from './scope.ts'

/**
 * Time-of-use cost of a scope (analytics/README.md, "Time-of-use cost"): the scope's energy
 * increments (the same devices energyReport counts) priced by the tariff of each line's site —
 * `site.tariff`, else the enterprise region's single-part tariff — split at period, month and
 * version boundaries; two-part tariffs add monthly max 15-minute demand × demand charge.
 */

/** How a line's tariff was chosen. */
export type TariffChoice = 'site' | 'region-default'

/** The tariff of a line: the site's, else the first single-part tariff of the enterprise's region. */
export function tariffOfLine(line: ScopeLine, reference: ReferenceData = DEFAULT_REFERENCE): { tariff: Tariff; chosenBy: TariffChoice } {
  if (line.tariff !== undefined) {
    const t = reference.tariffs.find((x) => x.id === line.tariff)
    if (!t) {
      throw analyticsError(
        'ANALYTICS_ERR_TARIFF',
        `site ${line.enterprise}/${line.site}: tariff ${JSON.stringify(line.tariff)} is not in the reference data (known: ${reference.tariffs.map((x) => x.id).join(', ')})`,
      )
    }
    return { tariff: t, chosenBy: 'site' }
  }
  const t = reference.tariffs.find((x) => x.region === line.region && x.versions.every((v) => v.kind === 'single-part'))
  if (!t)
    throw analyticsError(
      'ANALYTICS_ERR_TARIFF',
      `no single-part tariff for region ${JSON.stringify(line.region)} (enterprise ${line.enterprise}): set site.tariff or configure one`,
    )
  return { tariff: t, chosenBy: 'region-default' }
}

const compiledCache = new WeakMap<Tariff, CompiledTariff>()
function compiled(t: Tariff): CompiledTariff {
  let c = compiledCache.get(t)
  if (!c) compiledCache.set(t, (c = compileTariff(t)))
  return c
}

export interface CostRow {
  scope: string
  tariff: string
  /** Tariff version that priced this energy (see `tariffs[].versions` for its source). */
  version: string
  bucket: string
  start: number
  end: number
  /** TOU period (critical_peak, peak, flat, valley …) or `demand_charge` (two-part, month and total only). */
  period: string
  energyKwh: number
  /** Energy price of the period; null for demand_charge. */
  pricePerKwh: number | null
  cost: number
  /** demand_charge rows: the billed monthly maximum 15-minute demand, kW; else null. */
  demandKw: number | null
}

export interface CostMonth {
  tariff: string
  month: string
  version: string
  energyKwh: number
  energyCost: number
  maxDemandKw: number | null
  maxDemandAt: number | null
  demandCharge: number | null
  totalCost: number
}

export interface CostTariff {
  id: string
  region: string
  chosenBy: TariffChoice
  lines: string[]
  currency: string
  versions: Array<{ id: string; effectiveFrom: string; kind: string; energyKwh: number; cost: number; source: string }>
}

export interface CostReport {
  scope: string
  timezone: string
  granularity: ReportGranularity
  start: number
  end: number
  currency: string
  energyKwh: number
  energyCost: number
  demandCharge: number
  totalCost: number
  /** One row per bucket × tariff × version × period. */
  rows: CostRow[]
  months: CostMonth[]
  tariffs: CostTariff[]
  /** Energy meters without readings in the range (their energy is missing from the cost). */
  missing: string[]
}

/** Index of the first bucket ending after ts (buckets sorted, back to back). */
function firstBucket(buckets: readonly Bucket[], ts: number): number {
  let lo = 0
  let hi = buckets.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((buckets[mid] as Bucket).end <= ts) lo = mid + 1
    else hi = mid
  }
  return lo
}

interface GroupResult {
  rows: CostRow[]
  months: CostMonth[]
  tariff: CostTariff
  energyKwh: number
  energyCost: number
  demandCharge: number
  missing: string[]
}

/** Prices the intervals of the lines sharing one tariff. */
function priceGroup(
  tariff: Tariff,
  chosenBy: TariffChoice,
  lines: string[],
  intervalsIn: readonly Increment[],
  missing: string[],
  buckets: readonly Bucket[],
  path: string,
  granularity: ReportGranularity,
  range: TimeRange,
): GroupResult {
  const c = compiled(tariff)
  const intervals = intervalsIn.filter((iv) => iv.end > iv.start)
  const result = touCost(intervals, c)
  const months: CostMonth[] = result.byMonth.map((m) => ({
    tariff: tariff.id,
    month: m.month,
    version: m.versionId,
    energyKwh: m.energyKwh,
    energyCost: m.energyCost,
    maxDemandKw: m.maxDemand?.demandKw ?? null,
    maxDemandAt: m.maxDemand?.start ?? null,
    demandCharge: m.demandCharge ?? null,
    totalCost: m.totalCost,
  }))
  // Per bucket × version × period: priced pieces spread over the buckets pro rata by time.
  // Nested maps (version → period → per-bucket sums) keep the loop free of string keys.
  const acc = new Map<string, Map<string, { energy: Float64Array; cost: Float64Array; price: number }>>()
  for (const p of pricePieces(intervals, c)) {
    let byPeriod = acc.get(p.versionId)
    if (!byPeriod) acc.set(p.versionId, (byPeriod = new Map()))
    let sums = byPeriod.get(p.period)
    if (!sums) byPeriod.set(p.period, (sums = { energy: new Float64Array(buckets.length), cost: new Float64Array(buckets.length), price: p.pricePerKwh }))
    const span = p.end - p.start
    for (let i = firstBucket(buckets, p.start); i < buckets.length; i++) {
      const b = buckets[i] as Bucket
      if (b.start >= p.end) break
      const o = Math.min(b.end, p.end) - Math.max(b.start, p.start)
      if (o <= 0) continue
      const e = o === span ? p.energyKwh : (p.energyKwh * o) / span
      sums.energy[i] = (sums.energy[i] as number) + e
      sums.cost[i] = (sums.cost[i] as number) + e * p.pricePerKwh
    }
  }
  const rows: CostRow[] = []
  for (const [version, byPeriod] of acc) {
    for (const [period, sums] of byPeriod) {
      for (let i = 0; i < buckets.length; i++) {
        const energyKwh = sums.energy[i] as number
        const cost = sums.cost[i] as number
        if (energyKwh === 0 && cost === 0) continue
        const b = buckets[i] as Bucket
        rows.push({
          scope: path,
          tariff: tariff.id,
          version,
          bucket: b.label,
          start: b.start,
          end: b.end,
          period,
          energyKwh,
          pricePerKwh: energyKwh > 0 ? cost / energyKwh : sums.price,
          cost,
          demandKw: null,
        })
      }
    }
  }
  // Monthly demand charges can only be shown against month or whole-range buckets.
  if (granularity === 'month' || granularity === 'total') {
    for (const m of result.byMonth) {
      if (m.demandCharge === undefined) continue
      const at = m.maxDemand?.start ?? range.start
      const b = buckets[Math.min(firstBucket(buckets, at), buckets.length - 1)] as Bucket
      rows.push({
        scope: path,
        tariff: tariff.id,
        version: m.versionId,
        bucket: b.label,
        start: b.start,
        end: b.end,
        period: 'demand_charge',
        energyKwh: 0,
        pricePerKwh: null,
        cost: m.demandCharge,
        demandKw: m.maxDemand?.demandKw ?? null,
      })
    }
  }
  // Stable: within a bucket, periods keep the order they first appeared in.
  rows.sort((x, y) => x.start - y.start)
  return {
    rows,
    months,
    tariff: { id: tariff.id, region: tariff.region, chosenBy, lines, currency: result.currency, versions: result.versions },
    energyKwh: result.energyKwh,
    energyCost: result.energyCost,
    demandCharge: result.demandCharge,
    missing,
  }
}

const tariffUids = new WeakMap<Tariff, number>()
let nextTariffUid = 1
const tariffUid = (t: Tariff): number => {
  let id = tariffUids.get(t)
  if (id === undefined) tariffUids.set(t, (id = nextTariffUid++))
  return id
}

export async function costReport(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: ReportGranularity): Promise<CostReport> {
  const reference = deps.reference ?? DEFAULT_REFERENCE
  const lines = linesOf(deps.model, scope)
  const timezone = scopeTimezone(deps.model, lines)
  const buckets = scopeBuckets(range, granularity, lines, timezone)
  const path = formatScope(scope)

  // Lines priced by the same tariff are priced together (the demand of a two-part tariff is the group's).
  const groups = new Map<string, { tariff: Tariff; chosenBy: TariffChoice; lines: ScopeLine[] }>()
  for (const line of lines) {
    const { tariff, chosenBy } = tariffOfLine(line, reference)
    const g = groups.get(tariff.id) ?? { tariff, chosenBy, lines: [] }
    g.lines.push(line)
    groups.set(tariff.id, g)
  }

  // A group whose meters are all settled (roll-up watermark past the range by rereadMs) is priced once per process.
  const results = new Map<string, GroupResult>()
  const cacheKeys = new Map<string, string>()
  const rollup = deps.rollup
  if (rollup && rollup.maxCachedAnswers > 0) {
    const now = deps.now()
    const devices = lines.flatMap((l) => lineEnergyDevices(l, scope))
    const { watermarks } = await ensureRollup(deps.store, rollup, devices, 'energy_import_kwh', floorQuarter(range.start - READING_LOOKBACK_MS), now, now)
    const stop = ceilQuarter(range.end) + READING_STEP_MS
    for (const [id, g] of groups) {
      const gens: string[] = []
      for (const d of g.lines.flatMap((l) => lineEnergyDevices(l, scope))) {
        const w = watermarks.get(deviceKey(d))
        if (!w || stop > w.to - rollup.rereadMs) break
        gens.push(`${deviceKey(d)}:${w.gen}`)
      }
      if (gens.length !== g.lines.flatMap((l) => lineEnergyDevices(l, scope)).length) continue
      const key = `cost|${tariffUid(g.tariff)}|${path}|${granularity}|${range.start}|${range.end}|${gens.join(',')}`
      cacheKeys.set(id, key)
      const hit = cachedAnswer<GroupResult>(rollup, key)
      if (hit) results.set(id, hit)
    }
  }
  if (results.size < groups.size) {
    const byLine = new Map((await scopeEnergyIntervals(deps, scope, range)).map((l) => [l.line.path, l]))
    for (const [id, g] of groups) {
      if (results.has(id)) continue
      const intervals: Increment[] = []
      const missing: string[] = []
      for (const l of g.lines) {
        const li = byLine.get(l.path)
        for (const iv of li?.intervals ?? []) intervals.push(iv)
        missing.push(...(li?.missing ?? []))
      }
      const r = priceGroup(
        g.tariff,
        g.chosenBy,
        g.lines.map((l) => l.path),
        intervals,
        missing,
        buckets,
        path,
        granularity,
        range,
      )
      results.set(id, r)
      const key = cacheKeys.get(id)
      if (rollup && key !== undefined) cacheAnswer(rollup, key, r)
    }
  }

  const parts = [...groups.keys()].map((id) => results.get(id) as GroupResult)
  const energyCost = parts.reduce((s, r) => s + r.energyCost, 0)
  const demandCharge = parts.reduce((s, r) => s + r.demandCharge, 0)
  return {
    scope: path,
    timezone,
    granularity,
    start: range.start,
    end: range.end,
    currency: parts[0]?.tariff.currency ?? 'CNY',
    energyKwh: parts.reduce((s, r) => s + r.energyKwh, 0),
    energyCost,
    demandCharge,
    totalCost: energyCost + demandCharge,
    rows: parts.flatMap((r) => r.rows),
    months: parts.flatMap((r) => r.months),
    tariffs: parts.map((r) => r.tariff),
    missing: parts.flatMap((r) => r.missing),
  }
}
