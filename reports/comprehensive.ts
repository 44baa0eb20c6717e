import type { DeviceAddress } from '../core/topic.ts'
import { addressOfTags } from '../core/topic.ts'
import { deviceKey } from '../core/plant.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import {
  CARRIER_QUANTITIES,
  carrierOfQuantity,
  comprehensiveEnergy,
  DEFAULT_REFERENCE,
  entryFlows,
  mergeFlows,
  meterFlow,
  type Bucket,
  type BucketAmount,
  type CarrierFlow,
  type ComprehensiveEnergy,
  type EntryAmount,
  type TimeRange,
} from '../analytics/index.ts'
import type { EnergyEntry } from '../records/index.ts'
import { floorQuarter } from './counter-rollup.ts'
import { deviceBucketAmounts, READING_LOOKBACK_MS, scopeBuckets, scopeTimezone, type ReportDeps, type ReportGranularity } from './energy.ts'
import { reportError } from './errors.ts'
import { allLines, deviceFilter, formatScope, linesOf, scopeLevel, type Scope, type ScopeLine } from './scope.ts'

/**
 * Comprehensive energy (综合能耗, GB/T 2589-2020) of a line, site or enterprise per bucket: every
 * carrier from the counters of the line's devices (analytics/carriers.ts: energy_import_kwh, coal_t,
 * gas_m3, oxygen_m3 …; a line's main meter when it reports the quantity, else each device that does)
 * and from the audited entries (records/: a weighbridge total with its measured calorific value, a
 * delivery), minus what is exported, in kgce and tce, per carrier with source, conversion and
 * coverage. A site with incomers (关口表) takes its total of each carrier they meter from them, and
 * what its lines do not cover (losses, shared loads) is its own row; without incomers a site is the
 * sum of its lines (and says so). An enterprise is the sum of its sites plus its own entries.
 */

export interface ComprehensiveBucket {
  bucket: string
  start: number
  end: number
  kgce: number
  tce: number
  /** the lowest coverage of the bucket's flows (0 without flows) */
  coverage: number
  flows: CarrierFlow[]
}

export type ComprehensiveLevel = 'enterprise' | 'site' | 'line' | 'uncovered' | 'entries'

export interface ComprehensiveNode {
  level: ComprehensiveLevel
  path: string
  name: string
  /** sites: 'incomers' (every carrier its incomers meter; the rest from its lines) or 'sum-of-lines' */
  totalBasis?: 'incomers' | 'sum-of-lines'
  /** sites: the incomer devices (line/device) */
  incomers?: string[]
  note?: string
  kgce: number
  tce: number
  /** the whole range, per carrier, direction and source */
  flows: CarrierFlow[]
  buckets: ComprehensiveBucket[]
  children: ComprehensiveNode[]
}

export interface ComprehensiveReport {
  scope: string
  level: 'enterprise' | 'site' | 'line'
  timezone: string
  granularity: ReportGranularity
  start: number
  end: number
  kgce: number
  tce: number
  node: ComprehensiveNode
  basis: ComprehensiveEnergy['basis']
  /** carriers converted with a coefficient not traced to the standard text */
  unverified: string[]
  /** false: no record store is configured, so no entries were read */
  entriesRead: boolean
}

/** Per bucket (aligned with the buckets), the flows of a node. */
type BucketFlows = CarrierFlow[][]

/** Which devices report which carrier counters (one `latest` read); energy_import_kwh is left to the energy devices. */
async function carrierCounters(deps: ReportDeps, devices: readonly DeviceAddress[], range: TimeRange): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>()
  const fields = CARRIER_QUANTITIES.filter((q) => q !== 'energy_import_kwh')
  if (devices.length === 0) return out
  const rows = await deps.store.latest({
    measurement: TELEMETRY_MEASUREMENT,
    filter: deviceFilter(devices),
    fields,
    since: floorQuarter(range.start - READING_LOOKBACK_MS),
  })
  const wanted = new Set(devices.map(deviceKey))
  for (const r of rows) {
    const key = deviceKey(addressOfTags(r.tags))
    if (!wanted.has(key)) continue
    const set = out.get(r.field) ?? new Set<string>()
    set.add(key)
    out.set(r.field, set)
  }
  return out
}

/** The incomer devices of a line's site (line/device refs made full addresses). */
export function siteIncomers(deps: Pick<ReportDeps, 'model'>, enterprise: string, site: string): DeviceAddress[] {
  const s = deps.model.enterprises.find((e) => e.id === enterprise)?.sites.find((x) => x.id === site)
  return (s?.incomers ?? []).map((ref) => {
    const [line, device] = ref.split('/') as [string, string]
    return { enterprise, site, line, device }
  })
}

/** quantity → the devices whose counter of it makes up one part (a line, or a site's incomers). */
type QuantityDevices = Map<string, DeviceAddress[]>

/**
 * The devices of a line per carrier quantity. An incomer is left out (its line holds it, it is not the
 * line's load) unless it is the line's own main meter: a line fed by its own incomer is that incomer.
 */
function lineQuantityDevices(line: ScopeLine, counters: ReadonlyMap<string, Set<string>>, incomers: ReadonlySet<string>): QuantityDevices {
  const out: QuantityDevices = new Map()
  const mainKey = line.model.mainMeter === undefined ? undefined : `${line.path}/${line.model.mainMeter}`
  const incomerKeys = new Set([...incomers].filter((k) => k !== mainKey))
  const energy = line.energyDevices.filter((d) => !incomerKeys.has(deviceKey(d)))
  if (energy.length > 0) out.set('energy_import_kwh', energy)
  const main = line.model.mainMeter
  for (const [quantity, keys] of counters) {
    const has = line.devices.filter((d) => keys.has(deviceKey(d)) && !incomerKeys.has(deviceKey(d)))
    if (has.length === 0) continue
    const m = has.find((d) => d.device === main)
    out.set(quantity, m ? [m] : has)
  }
  return out
}

function incomerQuantityDevices(incomers: readonly DeviceAddress[], counters: ReadonlyMap<string, Set<string>>): QuantityDevices {
  const out: QuantityDevices = new Map()
  if (incomers.length > 0) out.set('energy_import_kwh', [...incomers])
  for (const [quantity, keys] of counters) {
    const has = incomers.filter((d) => keys.has(deviceKey(d)))
    if (has.length > 0) out.set(quantity, has)
  }
  return out
}

/** Meter flows per bucket of one part from the per-device bucket amounts. */
function meterFlowsOf(
  parts: QuantityDevices,
  amounts: ReadonlyMap<string, ReadonlyMap<string, BucketAmount[]>>,
  buckets: readonly Bucket[],
  deps: ReportDeps,
): BucketFlows {
  const table = deps.reference?.coal ?? DEFAULT_REFERENCE.coal
  const out: BucketFlows = buckets.map(() => [])
  for (const [quantity, devices] of parts) {
    const c = carrierOfQuantity(quantity)
    if (!c) continue
    const series = amounts.get(quantity)
    // A device that sent nothing (no series) counts as missing only for electricity, whose devices the model names.
    const present = devices.filter((d) => series?.has(deviceKey(d)))
    if (present.length === 0 && quantity !== 'energy_import_kwh') continue
    buckets.forEach((_, i) => {
      let amount = 0
      let coverage = devices.length > 0 ? 1 : 0
      for (const d of devices) {
        const a = series?.get(deviceKey(d))?.[i]
        amount += a?.amount ?? 0
        coverage = Math.min(coverage, a?.coverage ?? 0)
      }
      const flow = meterFlow(
        { carrier: c.carrier.id, direction: c.meter.direction, amount: amount * c.meter.toCarrierUnit, coverage, refs: devices.map(deviceKey) },
        table,
      )
      ;(out[i] as CarrierFlow[]).push(flow)
    })
  }
  return out.map((flows) => mergeFlows(flows))
}

/** Entry flows per bucket. */
function entryFlowsOf(entries: readonly EntryAmount[], buckets: readonly Bucket[], deps: ReportDeps): BucketFlows {
  const table = deps.reference?.coal ?? DEFAULT_REFERENCE.coal
  return buckets.map((b) => (entries.length === 0 ? [] : entryFlows(entries, b, table)))
}

function addFlows(...parts: BucketFlows[]): BucketFlows {
  const n = parts[0]?.length ?? 0
  return Array.from({ length: n }, (_, i) => mergeFlows(parts.flatMap((p) => p[i] ?? [])))
}

const entryAmount = (e: EnergyEntry): EntryAmount => ({
  id: `${e.id}@${e.revision}`,
  carrier: e.carrier,
  direction: e.direction,
  amount: e.amount,
  unit: e.unit,
  start: e.start,
  end: e.end,
  ...(e.ncvKjPerUnit !== undefined ? { ncvKjPerUnit: e.ncvKjPerUnit } : {}),
})

/** What one computation read: per-device amounts per quantity, and the entries of the scope. */
interface Readings {
  amounts: Map<string, Map<string, BucketAmount[]>>
  entries: EnergyEntry[]
  entriesRead: boolean
}

async function readAll(
  deps: ReportDeps,
  scopes: readonly Scope[],
  parts: readonly QuantityDevices[],
  buckets: readonly Bucket[],
  range: TimeRange,
): Promise<Readings> {
  const byQuantity = new Map<string, Map<string, DeviceAddress>>()
  for (const p of parts) {
    for (const [q, devices] of p) {
      const m = byQuantity.get(q) ?? new Map<string, DeviceAddress>()
      for (const d of devices) m.set(deviceKey(d), d)
      byQuantity.set(q, m)
    }
  }
  const reads = [...byQuantity].map(async ([q, m]) => {
    if (q !== 'energy_import_kwh') return [q, await deviceBucketAmounts({ ...deps, memo: undefined }, [...m.values()], q, buckets)] as const
    // Electricity per enterprise over the same device list as its energy report (every meter, the main
    // meters), so readings already fetched for this answer (ReportDeps.memo) are used, not read again.
    const out = new Map<string, BucketAmount[]>()
    for (const enterprise of new Set(scopes.map((x) => x.enterprise))) {
      const meters = allLines(deps.model)
        .filter((l) => l.enterprise === enterprise)
        .flatMap((l) => l.devices.filter((d) => d.kind === 'meter' || d.mainMeter))
      const keys = new Set(meters.map(deviceKey))
      const extra = [...m.values()].filter((d) => d.enterprise === enterprise && !keys.has(deviceKey(d)))
      for (const [k, v] of await deviceBucketAmounts(deps, [...meters, ...extra], q, buckets)) out.set(k, v)
    }
    return [q, out] as const
  })
  const records = deps.records
  const entryReads = scopes.map((scope) =>
    records
      ? records.energyEntries({
          enterprise: scope.enterprise,
          ...(scope.site ? { site: scope.site } : {}),
          ...(scope.line ? { line: scope.line } : {}),
          ...range,
        })
      : Promise.resolve([]),
  )
  const [amounts, entries] = await Promise.all([Promise.all(reads), Promise.all(entryReads)])
  return { amounts: new Map(amounts), entries: entries.flat(), entriesRead: records !== undefined }
}

/**
 * The flows of each line per bucket (meters and the line's own entries): what SEC grades. Reads the
 * carrier counters of the lines' devices and the lines' entries; `electricity`, when given, replaces
 * the electricity import read (the energy report's line buckets, so SEC and energy agree).
 */
export async function lineCarrierFlows(
  deps: ReportDeps,
  lines: readonly ScopeLine[],
  buckets: readonly Bucket[],
  range: TimeRange,
  electricity?: ReadonlyMap<string, readonly BucketAmount[]>,
): Promise<Map<string, BucketFlows>> {
  const out = new Map<string, BucketFlows>()
  if (lines.length === 0) return out
  const counters = await carrierCounters(
    deps,
    lines.flatMap((l) => l.devices),
    range,
  )
  const parts = lines.map((l) => {
    const p = lineQuantityDevices(l, counters, new Set(siteIncomers(deps, l.enterprise, l.site).map(deviceKey)))
    if (electricity) p.delete('energy_import_kwh')
    return p
  })
  const first = lines[0] as ScopeLine
  const scope: Scope = lines.length === 1 ? { enterprise: first.enterprise, site: first.site, line: first.line } : { enterprise: first.enterprise }
  const r = await readAll(deps, [scope], parts, buckets, range)
  lines.forEach((l, i) => {
    const meters = meterFlowsOf(parts[i] as QuantityDevices, r.amounts, buckets, deps)
    const elec: BucketFlows = buckets.map((_, b) => {
      const a = electricity?.get(l.path)?.[b]
      return a
        ? [
            meterFlow(
              { carrier: 'electricity', direction: 'import', amount: a.amount, coverage: a.coverage, refs: l.energyDevices.map(deviceKey) },
              deps.reference?.coal,
            ),
          ]
        : []
    })
    const entries = r.entries.filter((e) => e.site === l.site && e.line === l.line).map(entryAmount)
    out.set(l.path, addFlows(meters, elec, entryFlowsOf(entries, buckets, deps)))
  })
  return out
}

function nodeOf(
  level: ComprehensiveLevel,
  path: string,
  name: string,
  flows: BucketFlows,
  buckets: readonly Bucket[],
  children: ComprehensiveNode[] = [],
): ComprehensiveNode {
  const table = DEFAULT_REFERENCE.coal
  const bs: ComprehensiveBucket[] = buckets.map((b, i) => {
    const f = flows[i] ?? []
    const e = comprehensiveEnergy(f, table)
    return { bucket: b.label, start: b.start, end: b.end, kgce: e.kgce, tce: e.tce, coverage: f.length ? Math.min(...f.map((x) => x.coverage)) : 0, flows: f }
  })
  const all = mergeFlows(flows.flat())
  const kgce = bs.reduce((s, b) => s + b.kgce, 0)
  return { level, path, name, kgce, tce: kgce / 1000, flows: all, buckets: bs, children }
}

/** incomer − lines for each carrier and direction the incomers meter (may be negative: line meters above the incomer). */
function uncoveredFlows(incomer: BucketFlows, lines: BucketFlows): BucketFlows {
  return incomer.map((inc, i) =>
    inc.map((f) => {
      const covered = (lines[i] ?? []).filter((x) => x.carrier === f.carrier && x.direction === f.direction)
      const amount = f.amount - covered.reduce((s, x) => s + x.amount, 0)
      const kgce = f.kgce - covered.reduce((s, x) => s + x.kgce, 0)
      const coverage = Math.min(f.coverage, ...covered.map((x) => x.coverage))
      return { ...f, amount, kgce, coverage, refs: [...f.refs] }
    }),
  )
}

/** A site: its lines, its incomers' share no line covers, its own entries; the total by carrier. */
function siteNode(
  deps: ReportDeps,
  enterprise: string,
  site: string,
  lineNodes: Array<{ node: ComprehensiveNode; flows: BucketFlows }>,
  incomer: BucketFlows | undefined,
  siteEntries: BucketFlows,
  buckets: readonly Bucket[],
): { node: ComprehensiveNode; flows: BucketFlows } {
  const path = `${enterprise}/${site}`
  const name = deps.model.enterprises.find((e) => e.id === enterprise)?.sites.find((s) => s.id === site)?.name ?? site
  const linesSum = addFlows(...lineNodes.map((l) => l.flows))
  const children = lineNodes.map((l) => l.node)
  let total: BucketFlows
  let basis: 'incomers' | 'sum-of-lines' = 'sum-of-lines'
  if (incomer?.some((b) => b.length > 0)) {
    basis = 'incomers'
    const metered = (f: CarrierFlow, i: number): boolean => (incomer[i] ?? []).some((x) => x.carrier === f.carrier && x.direction === f.direction)
    const rest = addFlows(linesSum, siteEntries).map((b, i) => b.filter((f) => !metered(f, i)))
    total = addFlows(incomer, rest)
    const unc = nodeOf(
      'uncovered',
      `${path}/(uncovered)`,
      'not covered by line meters (losses, shared loads) / 线路未覆盖 (损耗、公用)',
      uncoveredFlows(incomer, linesSum),
      buckets,
    )
    children.push(unc)
  } else {
    total = addFlows(linesSum, siteEntries)
  }
  if (siteEntries.some((b) => b.length > 0)) children.push(nodeOf('entries', `${path}/(entries)`, 'site entries / 厂区录入', siteEntries, buckets))
  const node = nodeOf('site', path, name, total, buckets, children)
  node.totalBasis = basis
  node.note =
    basis === 'incomers'
      ? 'carriers the incomers meter: incomer total; other carriers: sum of lines and site entries'
      : 'no incomers: the sum of the lines (and site entries)'
  const inc = siteIncomers(deps, enterprise, site).map((d) => `${d.line}/${d.device}`)
  if (inc.length > 0) node.incomers = inc
  return { node, flows: total }
}

/** What one scope needs read: its lines, sites, incomers and the devices of each part. */
interface Plan {
  scope: Scope
  lines: ScopeLine[]
  timezone: string
  buckets: Bucket[]
  sites: string[]
  incomers: Map<string, DeviceAddress[]>
}

function planOf(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: ReportGranularity): Plan {
  if (scope.device !== undefined)
    throw reportError('REPORTS_ERR_INPUT', 'scope: comprehensive energy is answered for an enterprise, a site or a line, not a device')
  const lines = linesOf(deps.model, scope)
  const timezone = scopeTimezone(deps.model, lines)
  const buckets = scopeBuckets(range, granularity, lines, timezone)
  const sites = [...new Set(lines.map((l) => l.site))]
  const incomers = new Map(sites.map((s) => [s, scope.line === undefined ? siteIncomers(deps, scope.enterprise, s) : []]))
  return { scope, lines, timezone, buckets, sites, incomers }
}

function partsOf(deps: ReportDeps, plan: Plan, counters: ReadonlyMap<string, Set<string>>): { lineParts: QuantityDevices[]; incParts: QuantityDevices[] } {
  return {
    lineParts: plan.lines.map((l) => lineQuantityDevices(l, counters, new Set(siteIncomers(deps, l.enterprise, l.site).map(deviceKey)))),
    incParts: plan.sites.map((s) => incomerQuantityDevices(plan.incomers.get(s) ?? [], counters)),
  }
}

/** Comprehensive energy of a line, site or enterprise per bucket (see the file comment). */
export async function comprehensiveReport(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: ReportGranularity): Promise<ComprehensiveReport> {
  return (await comprehensiveReports(deps, [scope], range, granularity))[0] as ComprehensiveReport
}

/**
 * Comprehensive energy of several scopes read together (the commission scope: every enterprise in a
 * constant number of store queries): one discovery of the carrier counters, one read per quantity.
 */
export async function comprehensiveReports(
  deps: ReportDeps,
  scopes: readonly Scope[],
  range: TimeRange,
  granularity: ReportGranularity,
): Promise<ComprehensiveReport[]> {
  const plans = scopes.map((s) => planOf(deps, s, range, granularity))
  const sig = (p: Plan): string => p.buckets.map((b) => `${b.start}-${b.end}`).join(',')
  if (plans.some((p) => sig(p) !== sig(plans[0] as Plan))) {
    // Buckets in different time zones: each scope on its own.
    return Promise.all(scopes.map((s) => comprehensiveReport(deps, s, range, granularity)))
  }
  const devices = plans.flatMap((p) => [...p.lines.flatMap((l) => l.devices), ...[...p.incomers.values()].flat()])
  const counters = await carrierCounters(deps, devices, range)
  const parts = plans.map((p) => partsOf(deps, p, counters))
  const buckets = (plans[0] as Plan).buckets
  const r = await readAll(
    deps,
    scopes,
    parts.flatMap((x) => [...x.lineParts, ...x.incParts]),
    buckets,
    range,
  )
  return plans.map((p, i) => assemble(deps, p, parts[i] as ReturnType<typeof partsOf>, r, range, granularity))
}

function assemble(
  deps: ReportDeps,
  plan: Plan,
  parts: ReturnType<typeof partsOf>,
  r: Readings,
  range: TimeRange,
  granularity: ReportGranularity,
): ComprehensiveReport {
  const { scope, lines, buckets, sites, incomers, timezone } = plan
  const mine = r.entries.filter(
    (e) => e.enterprise === scope.enterprise && (scope.site === undefined || e.site === scope.site) && (scope.line === undefined || e.line === scope.line),
  )
  const lineNodes = lines.map((l, i) => {
    const entries = mine.filter((e) => e.site === l.site && e.line === l.line).map(entryAmount)
    const flows = addFlows(meterFlowsOf(parts.lineParts[i] as QuantityDevices, r.amounts, buckets, deps), entryFlowsOf(entries, buckets, deps))
    return { site: l.site, node: nodeOf('line', l.path, l.name, flows, buckets), flows }
  })
  if (scope.line !== undefined) return reportOf(scope, range, granularity, timezone, (lineNodes[0] as { node: ComprehensiveNode }).node, r.entriesRead, deps)
  const siteNodes = sites.map((s, i) => {
    const siteEntries = mine.filter((e) => e.site === s && e.line === undefined).map(entryAmount)
    const inc = (incomers.get(s) ?? []).length > 0 ? meterFlowsOf(parts.incParts[i] as QuantityDevices, r.amounts, buckets, deps) : undefined
    return siteNode(
      deps,
      scope.enterprise,
      s,
      lineNodes.filter((l) => l.site === s),
      inc,
      entryFlowsOf(siteEntries, buckets, deps),
      buckets,
    )
  })
  if (scope.site !== undefined) return reportOf(scope, range, granularity, timezone, (siteNodes[0] as { node: ComprehensiveNode }).node, r.entriesRead, deps)
  const entEntries = entryFlowsOf(mine.filter((e) => e.site === undefined).map(entryAmount), buckets, deps)
  const children = siteNodes.map((s) => s.node)
  if (entEntries.some((b) => b.length > 0))
    children.push(nodeOf('entries', `${scope.enterprise}/(entries)`, 'enterprise entries / 企业录入', entEntries, buckets))
  const name = deps.model.enterprises.find((e) => e.id === scope.enterprise)?.name ?? scope.enterprise
  const node = nodeOf('enterprise', scope.enterprise, name, addFlows(...siteNodes.map((s) => s.flows), entEntries), buckets, children)
  return reportOf(scope, range, granularity, timezone, node, r.entriesRead, deps)
}

/** Each line's flows per bucket, from a report's tree (what SEC grades). */
export function lineFlowsOfReport(report: ComprehensiveReport): Map<string, CarrierFlow[][]> {
  const out = new Map<string, CarrierFlow[][]>()
  const walk = (n: ComprehensiveNode): void => {
    if (n.level === 'line')
      out.set(
        n.path,
        n.buckets.map((b) => b.flows),
      )
    for (const c of n.children) walk(c)
  }
  walk(report.node)
  return out
}

function reportOf(
  scope: Scope,
  range: TimeRange,
  granularity: ReportGranularity,
  timezone: string,
  node: ComprehensiveNode,
  entriesRead: boolean,
  deps: ReportDeps,
): ComprehensiveReport {
  const e = comprehensiveEnergy(node.flows, deps.reference?.coal ?? DEFAULT_REFERENCE.coal)
  return {
    scope: formatScope(scope),
    level: scopeLevel(scope) as 'enterprise' | 'site' | 'line',
    timezone,
    granularity,
    start: range.start,
    end: range.end,
    kgce: node.kgce,
    tce: node.tce,
    node,
    basis: e.basis,
    unverified: e.unverified,
    entriesRead,
  }
}
