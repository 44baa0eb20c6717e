import {
  analyticsError,
  compileTariff,
  DEFAULT_REFERENCE,
  demandFromEnergy,
  monthKey,
  pricePieces,
  startOfLocalDate,
  touCost,
  type Bucket,
  type CompiledTariff,
  type DemandWindow,
  type Increment,
  type MonthlyMaxDemand,
  type ReferenceData,
  type Tariff,
  type TimeRange,
} from '../analytics/index.ts'
import { basicCharge, powerFactorAdjustment, staleVersionWarning, type BillingRule } from '../analytics/billing.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { deviceKey } from '../core/plant.ts'
import { accountsOf, tariffOfAccount, type SupplyAccount } from './accounts.ts'
import { cacheAnswer, cachedAnswer, ceilQuarter, ensureRollup, floorQuarter } from './counter-rollup.ts'
import {
  clipIncrements,
  counterContexts,
  counterReadings,
  lineEnergyDevices,
  READING_LOOKBACK_MS,
  READING_STEP_MS,
  readingIncrements,
  readingsStop,
  scopeBuckets,
  scopeTimezone,
  type ReportDeps,
  type ReportGranularity,
} from './energy.ts'
import { formatScope, linesOf, scopeLevel, type Scope, type ScopeLine } from './scope.ts'

/**
 * Time-of-use cost of a scope (analytics/README.md, "Time-of-use cost"). An enterprise or site is
 * the sum of its supply accounts (reports/accounts.ts), each priced on its own meters and its own
 * tariff — never pooled; a site without accounts is one implicit account of its lines' meters. A line
 * or device scope is priced at its site's tariff, energy only (the basic charge belongs to accounts).
 * Energy is split at period, month and version boundaries. Two-part accounts add the month's basic
 * charge (analytics/billing.ts basicCharge on the 15-minute maximum of quarter-hour readings; the
 * sliding billing-grade figure is GET /bill's) only for months the range covers whole: a partial
 * month shows the demand to date and the charge it implies, not counted in the totals. Months the
 * range covers whole also get the 力调 adjustment where the meters have a kvarh counter.
 */

/** How a tariff was chosen: the site's (lines), the account's rules (reports/accounts.ts), or the region default. */
export type TariffChoice = 'site' | 'region-default' | 'configured' | 'by-kva-and-voltage'

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
  /** TOU period (critical_peak, peak, flat, valley …), `demand_charge` (a billed month's basic charge) or `pf_adjustment` (力调), month and total only. */
  period: string
  energyKwh: number
  /** Energy price of the period; null for demand_charge / pf_adjustment. */
  pricePerKwh: number | null
  cost: number
  /** demand_charge rows: the billed quantity (kW, or kVA on the capacity basis); else null. */
  demandKw: number | null
  /** The supply account priced (enterprise/site/account), or null for a line or device scope. */
  account: string | null
}

/** Whether a month's basic charge is in the totals: billed (the range covers the whole month), to-date (running month), partial-range. */
export type DemandStatus = 'billed' | 'to-date' | 'partial-range'

export interface CostMonth {
  tariff: string
  account: string | null
  month: string
  version: string
  energyKwh: number
  energyCost: number
  /** Maximum 15-minute demand of the month (to date for a running month, over the whole month's data otherwise), kW. */
  maxDemandKw: number | null
  maxDemandAt: number | null
  /** The basic charge in the totals: only when demandStatus is billed. */
  demandCharge: number | null
  /** The charge the demand implies (billed: = demandCharge; to-date / partial-range: not in the totals). */
  impliedDemandCharge: number | null
  demandStatus: DemandStatus | null
  /** What the charge rests on: basis, quantity, price, rules (105 %, 40 % floor, 90 % price), window. */
  demandBasis: string | null
  demandRules: BillingRule[]
  /** 力调: the month's PF from kWh and kvarh and the adjustment, billed months with a kvarh counter only. */
  powerFactor: number | null
  pfStandard: number | null
  pfPercent: number | null
  pfAdjustment: number | null
  totalCost: number
}

export interface CostTariff {
  id: string
  region: string
  chosenBy: TariffChoice
  /** The supply account this tariff prices (null: the lines of a line or device scope). */
  account: string | null
  /** implicit-lines: a site without accounts, billed as its lines' meters. */
  accountOrigin: SupplyAccount['origin'] | null
  /** Why this tariff: configured id, or the kVA / voltage rule. */
  reason: string
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
  /** Basic charges of the months the range covers whole (never a whole month's charge in a day). */
  demandCharge: number
  /** 力调 of those months (+ surcharge, − reduction). */
  pfAdjustment: number
  totalCost: number
  /** One row per bucket × tariff × version × period. */
  rows: CostRow[]
  months: CostMonth[]
  tariffs: CostTariff[]
  /** Energy meters without readings in the range (their energy is missing from the cost). */
  missing: string[]
  /** Versions older than 12 months for the month they price, partial months, implicit accounts. */
  warnings: string[]
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

/** What is priced together: a supply account, or the lines of one site for a line / device scope. */
interface Unit {
  key: string
  account: SupplyAccount | null
  tariff: Tariff
  chosenBy: TariffChoice
  reason: string
  lines: string[]
  devices: DeviceAddress[]
}

interface GroupResult {
  rows: CostRow[]
  months: CostMonth[]
  tariff: CostTariff
  energyKwh: number
  energyCost: number
  demandCharge: number
  pfAdjustment: number
  missing: string[]
  warnings: string[]
}

/** Energy rows per bucket × version × period: priced pieces spread over the buckets pro rata by time. */
function energyRows(unit: Unit, intervals: readonly Increment[], c: CompiledTariff, buckets: readonly Bucket[], path: string): CostRow[] {
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
        const pricePerKwh = energyKwh > 0 ? cost / energyKwh : sums.price
        rows.push({
          scope: path,
          tariff: unit.tariff.id,
          version,
          bucket: b.label,
          start: b.start,
          end: b.end,
          period,
          energyKwh,
          pricePerKwh,
          cost,
          demandKw: null,
          account: unit.account?.path ?? null,
        })
      }
    }
  }
  return rows
}

/** The local month [start, end) containing ts. */
function monthOf(ts: number, timezone: string): TimeRange {
  const [y, m] = monthKey(ts, timezone).split('-').map(Number) as [number, number]
  return { start: startOfLocalDate(y, m, 1, timezone), end: m === 12 ? startOfLocalDate(y + 1, 1, 1, timezone) : startOfLocalDate(y, m + 1, 1, timezone) }
}

interface UnitData {
  /** Increments inside the range (priced). */
  intervals: Increment[]
  /** Increments from the start of the range's first month (demand to date, monthly energy for the 260 kWh/kVA rule). */
  monthIntervals: Increment[]
  /** Reactive import increments inside the range; null when a meter has no kvarh counter. */
  reactive: Increment[] | null
  missing: string[]
}

/** The month's basic charge and 力调 of a two-part account (and 力调 of a single-part one), per local month of the range. */
function monthCharges(unit: Unit, data: UnitData, energyMonths: ReturnType<typeof touCost>['byMonth'], range: TimeRange, now: number): CostMonth[] {
  const tz = unit.tariff.timezone
  const account = unit.account
  const demandByMonth = new Map(maxDemandByMonth(demandFromEnergy(data.monthIntervals, tz), monthCursor(tz)).map((m) => [m.month, m]))
  return energyMonths.map((m) => {
    const span = monthOf(startOfMonthOf(m.month, tz), tz)
    const whole = range.start <= span.start && range.end >= span.end && now >= span.end
    const status: DemandStatus = whole ? 'billed' : range.end >= now && now < span.end ? 'to-date' : 'partial-range'
    const version = unit.tariff.versions.find((v) => v.id === m.versionId)
    const out: CostMonth = {
      tariff: unit.tariff.id,
      account: account?.path ?? null,
      month: m.month,
      version: m.versionId,
      energyKwh: m.energyKwh,
      energyCost: m.energyCost,
      maxDemandKw: null,
      maxDemandAt: null,
      demandCharge: null,
      impliedDemandCharge: null,
      demandStatus: null,
      demandBasis: null,
      demandRules: [],
      powerFactor: null,
      pfStandard: null,
      pfPercent: null,
      pfAdjustment: null,
      totalCost: m.energyCost,
    }
    const peak = demandByMonth.get(m.month)
    if (peak) {
      out.maxDemandKw = peak.demandKw
      out.maxDemandAt = peak.start
    }
    if (account && version?.kind === 'two-part') {
      const monthEnergy = data.monthIntervals.reduce((s, iv) => (iv.start >= span.start && iv.start < span.end ? s + iv.amount : s), 0)
      const c = basicCharge({
        basis: account.billingBasis ?? 'actual-demand',
        maxDemandKw: peak?.demandKw ?? null,
        monthEnergyKwh: monthEnergy,
        ...(account.contractedDemandKw !== undefined ? { contractedDemandKw: account.contractedDemandKw } : {}),
        ...(account.transformerKva !== undefined ? { transformerKva: account.transformerKva } : {}),
        ...(version.demandChargePerKwMonth !== undefined ? { demandPricePerKwMonth: version.demandChargePerKwMonth } : {}),
        ...(version.capacityChargePerKvaMonth !== undefined ? { capacityPricePerKvaMonth: version.capacityChargePerKvaMonth } : {}),
      })
      out.impliedDemandCharge = c.charge
      out.demandStatus = status
      out.demandRules = c.rules
      out.demandBasis = `${c.basis}: ${c.billedQuantity} ${c.unit} × ${c.pricePerUnitMonth} × ${c.priceFactor} (${version.id}); maximum of fixed 15-minute windows of quarter-hour readings${status === 'billed' ? '' : status === 'to-date' ? '; demand to date, the charge it implies — not in the totals' : '; the range covers part of the month — not in the totals'}`
      if (whole) out.demandCharge = c.charge
    }
    if (whole && account && data.reactive) {
      const kvarh = data.reactive.reduce((s, iv) => (iv.start >= span.start && iv.start < span.end ? s + iv.amount : s), 0)
      const pf = powerFactorAdjustment(m.energyKwh, kvarh, account.powerFactorStandard, m.energyCost + (out.demandCharge ?? 0))
      out.powerFactor = pf.powerFactorRounded
      out.pfStandard = pf.standard
      out.pfPercent = pf.percent
      out.pfAdjustment = pf.adjustment
    }
    out.totalCost = m.energyCost + (out.demandCharge ?? 0) + (out.pfAdjustment ?? 0)
    return out
  })
}

function startOfMonthOf(month: string, timezone: string): number {
  const [y, m] = month.split('-').map(Number) as [number, number]
  return startOfLocalDate(y, m, 1, timezone)
}

/** Prices one unit: energy rows, the months' charges, and their rows at month and total granularity. */
function priceUnit(
  unit: Unit,
  data: UnitData,
  buckets: readonly Bucket[],
  path: string,
  granularity: ReportGranularity,
  range: TimeRange,
  now: number,
): GroupResult {
  const c = compiled(unit.tariff)
  const intervals = data.intervals.filter((iv) => iv.end > iv.start)
  const result = touCost(intervals, c, { monthlyMaxDemandKw: Object.fromEntries(monthsOfRange(intervals, unit.tariff.timezone).map((m) => [m, 0])) })
  const months = monthCharges(unit, data, result.byMonth, range, now)
  const rows = energyRows(unit, intervals, c, buckets, path)
  // A month's charges can only be shown against month or whole-range buckets.
  if (granularity === 'month' || granularity === 'total') {
    for (const m of months) {
      const b = buckets[Math.min(firstBucket(buckets, startOfMonthOf(m.month, unit.tariff.timezone)), buckets.length - 1)] as Bucket
      const row = {
        scope: path,
        tariff: unit.tariff.id,
        version: m.version,
        bucket: b.label,
        start: b.start,
        end: b.end,
        energyKwh: 0,
        pricePerKwh: null,
        account: m.account,
      }
      if (m.demandCharge !== null) rows.push({ ...row, period: 'demand_charge', cost: m.demandCharge, demandKw: m.maxDemandKw })
      if (m.pfAdjustment !== null) rows.push({ ...row, period: 'pf_adjustment', cost: m.pfAdjustment, demandKw: null })
    }
  }
  // Stable: within a bucket, periods keep the order they first appeared in.
  rows.sort((x, y) => x.start - y.start)
  const warnings: string[] = []
  for (const m of months) {
    const v = unit.tariff.versions.find((x) => x.id === m.version)
    const w = v ? staleVersionWarning(v.id, v.effectiveFrom, m.month) : null
    if (w) warnings.push(`${unit.key}: ${w}`)
  }
  if (unit.account?.origin === 'implicit-lines')
    warnings.push(`${unit.key}: no supply accounts configured for the site: priced as one account of its lines' meters`)
  const demandCharge = months.reduce((s, m) => s + (m.demandCharge ?? 0), 0)
  const pfAdjustment = months.reduce((s, m) => s + (m.pfAdjustment ?? 0), 0)
  return {
    rows,
    months,
    tariff: {
      id: unit.tariff.id,
      region: unit.tariff.region,
      chosenBy: unit.chosenBy,
      account: unit.account?.path ?? null,
      accountOrigin: unit.account?.origin ?? null,
      reason: unit.reason,
      lines: unit.lines,
      currency: result.currency,
      versions: result.versions,
    },
    energyKwh: result.energyKwh,
    energyCost: result.energyCost,
    demandCharge,
    pfAdjustment,
    missing: data.missing,
    warnings,
  }
}

function monthsOfRange(intervals: readonly Increment[], timezone: string): string[] {
  const out = new Set<string>()
  const month = monthCursor(timezone)
  for (const iv of intervals) out.add(month(iv.start))
  return [...out]
}

/**
 * monthKey for timestamps that mostly stay in one month: the local month is worked out again only
 * when a timestamp leaves the last one's [start, end) — a year of quarters is 35,040 calls, 12 months.
 */
function monthCursor(timezone: string): (ts: number) => string {
  let span: TimeRange = { start: 0, end: 0 }
  let key = ''
  return (ts) => {
    if (ts < span.start || ts >= span.end) {
      key = monthKey(ts, timezone)
      span = monthOf(ts, timezone)
    }
    return key
  }
}

/** analytics monthlyMaxDemand (the first window of the maximum, months in order) with the month found by a cursor. */
function maxDemandByMonth(windows: readonly DemandWindow[], month: (ts: number) => string): MonthlyMaxDemand[] {
  const byMonth = new Map<string, MonthlyMaxDemand>()
  for (const w of windows) {
    const key = month(w.start)
    const cur = byMonth.get(key)
    if (!cur || w.demandKw > cur.demandKw) byMonth.set(key, { month: key, demandKw: w.demandKw, start: w.start, end: w.end, coverage: w.coverage })
  }
  return [...byMonth.values()].sort((a, b) => a.start - b.start)
}

const tariffUids = new WeakMap<Tariff, number>()
let nextTariffUid = 1
const tariffUid = (t: Tariff): number => {
  let id = tariffUids.get(t)
  if (id === undefined) tariffUids.set(t, (id = nextTariffUid++))
  return id
}

/**
 * What a scope is priced as: its supply accounts (enterprise, site), or per site the lines of a
 * line / device scope at the site's tariff (energy only).
 */
function unitsOf(deps: ReportDeps, scope: Scope, lines: readonly ScopeLine[], at: number, reference: ReferenceData): Unit[] {
  const level = scopeLevel(scope)
  if (level === 'enterprise' || level === 'site') {
    return accountsOf(deps.model, scope).map((a) => {
      const t = tariffOfAccount(a, at, reference)
      const linesOfAccount = a.origin === 'implicit-lines' ? lines.filter((l) => l.site === a.site).map((l) => l.path) : a.meters.map((m) => deviceKey(m))
      return { key: a.path, account: a, tariff: t.tariff, chosenBy: t.chosenBy, reason: t.reason, lines: linesOfAccount, devices: a.meters }
    })
  }
  const bySite = new Map<string, Unit>()
  for (const line of lines) {
    const key = `${line.enterprise}/${line.site}`
    let u = bySite.get(key)
    if (!u) {
      const { tariff, chosenBy } = tariffOfLine(line, reference)
      u = {
        key,
        account: null,
        tariff,
        chosenBy,
        reason: chosenBy === 'site' ? 'site.tariff' : 'region single-part tariff; energy only (basic charges belong to supply accounts)',
        lines: [],
        devices: [],
      }
      bySite.set(key, u)
    }
    u.lines.push(line.path)
    u.devices.push(...lineEnergyDevices(line, scope))
  }
  return [...bySite.values()]
}

/** Increments of each unit's meters: in the range, and from the start of the range's first month. */
async function unitData(deps: ReportDeps, units: readonly Unit[], range: TimeRange, readFrom: number): Promise<Map<string, UnitData>> {
  const devices = units.flatMap((u) => u.devices)
  const readRange = { start: readFrom, end: range.end }
  const readings = await counterReadings(deps, devices, 'energy_import_kwh', readRange)
  const withAccounts = units.filter((u) => u.account !== null).flatMap((u) => u.devices)
  const reactive = withAccounts.length > 0 ? await counterReadings(deps, withAccounts, 'reactive_energy_import_kvarh', range) : new Map()
  // Recorded meter events (replacements, ratio changes, resets) and register moduli: counted across exactly.
  const contexts = await counterContexts(deps, devices, 'energy_import_kwh', readingsStop(readRange))
  const reactiveContexts = withAccounts.length > 0 ? await counterContexts(deps, withAccounts, 'reactive_energy_import_kvarh', readingsStop(range)) : new Map()
  const out = new Map<string, UnitData>()
  for (const u of units) {
    const d: UnitData = { intervals: [], monthIntervals: [], reactive: u.account ? [] : null, missing: [] }
    for (const dev of u.devices) {
      const key = deviceKey(dev)
      const samples = readings.get(key)
      if (!samples) {
        d.missing.push(key)
        continue
      }
      const incs = readingIncrements(samples, contexts.get(key)).increments
      for (const iv of clipIncrements(incs, readRange)) d.monthIntervals.push(iv)
      for (const iv of clipIncrements(incs, range)) d.intervals.push(iv)
      const q = reactive.get(key)
      if (!q) d.reactive = null
      else if (d.reactive) for (const iv of clipIncrements(readingIncrements(q, reactiveContexts.get(key)).increments, range)) d.reactive.push(iv)
    }
    out.set(u.key, d)
  }
  return out
}

export async function costReport(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: ReportGranularity): Promise<CostReport> {
  const reference = deps.reference ?? DEFAULT_REFERENCE
  const lines = linesOf(deps.model, scope)
  const timezone = scopeTimezone(deps.model, lines)
  const buckets = scopeBuckets(range, granularity, lines, timezone)
  const path = formatScope(scope)
  const now = deps.now()
  const units = unitsOf(deps, scope, lines, range.start, reference)
  const readFrom = Math.min(range.start, ...units.map((u) => monthOf(range.start, u.tariff.timezone).start))

  // A unit whose meters are all settled (roll-up watermark past the range by rereadMs) is priced once per process.
  const results = new Map<string, GroupResult>()
  const cacheKeys = new Map<string, string>()
  const rollup = deps.rollup
  if (rollup && rollup.maxCachedAnswers > 0) {
    const devices = units.flatMap((u) => u.devices)
    const { watermarks } = await ensureRollup(deps.store, rollup, devices, 'energy_import_kwh', floorQuarter(readFrom - READING_LOOKBACK_MS), now, now)
    const stop = ceilQuarter(range.end) + READING_STEP_MS
    for (const u of units) {
      const gens: string[] = []
      for (const d of u.devices) {
        const w = watermarks.get(deviceKey(d))
        if (!w || stop > w.to - rollup.rereadMs) break
        gens.push(`${deviceKey(d)}:${w.gen}`)
      }
      if (gens.length !== u.devices.length) continue
      const key = `cost|${tariffUid(u.tariff)}|${u.key}|${path}|${granularity}|${range.start}|${range.end}|${gens.join(',')}`
      cacheKeys.set(u.key, key)
      const hit = cachedAnswer<GroupResult>(rollup, key)
      if (hit) results.set(u.key, hit)
    }
  }
  const todo = units.filter((u) => !results.has(u.key))
  if (todo.length > 0) {
    const data = await unitData(deps, todo, range, readFrom)
    for (const u of todo) {
      const r = priceUnit(u, data.get(u.key) as UnitData, buckets, path, granularity, range, now)
      results.set(u.key, r)
      const key = cacheKeys.get(u.key)
      if (rollup && key !== undefined) cacheAnswer(rollup, key, r)
    }
  }

  const parts = units.map((u) => results.get(u.key) as GroupResult)
  const energyCost = parts.reduce((s, r) => s + r.energyCost, 0)
  const demandCharge = parts.reduce((s, r) => s + r.demandCharge, 0)
  const pfAdjustment = parts.reduce((s, r) => s + r.pfAdjustment, 0)
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
    pfAdjustment,
    totalCost: energyCost + demandCharge + pfAdjustment,
    rows: parts.flatMap((r) => r.rows),
    months: parts.flatMap((r) => r.months),
    tariffs: parts.map((r) => r.tariff),
    missing: parts.flatMap((r) => r.missing),
    warnings: parts.flatMap((r) => r.warnings),
  }
}
