import { type CarrierInfo, carrierInfo, carrierKgce, coefficientOf, KJ_PER_KGCE } from './carriers.ts'
import { analyticsError } from './errors.ts'
import { DEFAULT_REFERENCE } from './reference/index.ts'
import type { CoalTable } from './reference/schemas.ts'
import type { TimeRange } from './types.ts'

/**
 * Comprehensive energy consumption (综合能耗, GB/T 2589-2020): every carrier used inside a boundary,
 * each converted to standard coal — a measured low calorific value where an entry gives one, else the
 * table coefficient (electricity at the equivalent value 当量值 0.1229 kgce/kWh) — minus the energy
 * exported across the boundary. Flows come from meters (counters) and from periodic entries; each
 * flow keeps its source, its conversion and its coverage.
 */

export const GBT2589 = 'GB/T 2589-2020'

export type FlowDirection = 'import' | 'export'
export type FlowSource = 'meter' | 'entry'

/** How a flow's amount became kgce (several entries of one carrier may mix methods). */
export interface FlowConversion {
  method: 'coefficient' | 'measured-ncv' | 'mixed'
  /** effective kgce per carrier unit: kgce / amount */
  kgcePerUnit: number
  unit: string
  tableVersion: string
  source: string
  /** amount-weighted measured NCV, kJ per carrier unit, when some of the amount had one */
  ncvKjPerUnit?: number
  /** the part of the amount converted with a measured NCV */
  ncvAmount?: number
  /** false: a coefficient used is not traced to the standard's text */
  verified: boolean
}

/** One carrier, direction and source inside a boundary for a period. */
export interface CarrierFlow {
  carrier: string
  name: string
  nameZh: string
  kind: CarrierInfo['kind']
  direction: FlowDirection
  source: FlowSource
  /** in the carrier unit, ≥ 0 */
  amount: number
  unit: string
  /** signed: exports are negative */
  kgce: number
  /** 0..1 share of the period the meters (or entries) cover */
  coverage: number
  conversion: FlowConversion
  /** device keys (meters) or entry ids (entries) behind the flow */
  refs: string[]
}

/** A meter's amount of one carrier (already in the carrier unit) for a period. */
export interface MeterAmount {
  carrier: string
  direction: FlowDirection
  amount: number
  coverage: number
  refs: readonly string[]
}

/** An entry as analytics needs it (records/ EnergyEntry has these fields). */
export interface EntryAmount {
  id: string
  carrier: string
  direction: FlowDirection
  amount: number
  unit: string
  start: number
  end: number
  ncvKjPerUnit?: number
}

export interface ComprehensiveEnergy {
  /** Σ import kgce − Σ export kgce */
  kgce: number
  tce: number
  flows: CarrierFlow[]
  /** carriers with a flow (metered or entered), imports and exports */
  carriers: string[]
  /** carriers converted with a coefficient not traced to the standard text */
  unverified: string[]
  basis: { standard: string; electricity: string; tableVersion: string; kjPerKgce: number }
}

/** A flow from a meter amount, converted with the table coefficient. */
export function meterFlow(m: MeterAmount, table: CoalTable = DEFAULT_REFERENCE.coal): CarrierFlow {
  const c = carrierInfo(m.carrier)
  if (!c) throw analyticsError('ANALYTICS_ERR_INPUT', `meter flow: unknown carrier ${JSON.stringify(m.carrier)}`)
  if (!Number.isFinite(m.amount) || m.amount < 0) throw analyticsError('ANALYTICS_ERR_INPUT', `meter flow ${m.carrier}: amount must be ≥ 0, got ${m.amount}`)
  const conv = coefficientOf(c, table)
  const kgce = m.amount * conv.kgcePerUnit
  return {
    carrier: c.id,
    name: c.name,
    nameZh: c.nameZh,
    kind: c.kind,
    direction: m.direction,
    source: 'meter',
    amount: m.amount,
    unit: c.unit,
    kgce: m.direction === 'export' ? -kgce : kgce,
    coverage: m.coverage,
    conversion: {
      method: 'coefficient',
      kgcePerUnit: conv.kgcePerUnit,
      unit: conv.unit,
      tableVersion: conv.tableVersion,
      source: conv.source,
      verified: conv.verified,
    },
    refs: [...m.refs],
  }
}

/** Length of the union of [start, end) spans clipped to a window. */
function coveredMs(spans: ReadonlyArray<{ start: number; end: number }>, w: TimeRange): number {
  const clipped = spans
    .map((s) => ({ start: Math.max(s.start, w.start), end: Math.min(s.end, w.end) }))
    .filter((s) => s.start < s.end)
    .sort((a, b) => a.start - b.start)
  let total = 0
  let curStart = Number.NaN
  let curEnd = Number.NaN
  for (const s of clipped) {
    if (!(s.start <= curEnd)) {
      if (curEnd > curStart) total += curEnd - curStart
      curStart = s.start
      curEnd = s.end
    } else if (s.end > curEnd) curEnd = s.end
  }
  if (curEnd > curStart) total += curEnd - curStart
  return total
}

/**
 * Entry flows of a window: each entry's share of the window (pro rata by time, as a counter's
 * increment is spread), converted with its measured NCV or the table coefficient, summed per carrier
 * and direction. Coverage = the share of the window spanned by entries of that carrier and direction.
 * Validates every entry (ANALYTICS_ERR_INPUT naming the entry and field).
 */
export function entryFlows(entries: readonly EntryAmount[], window: TimeRange, table: CoalTable = DEFAULT_REFERENCE.coal): CarrierFlow[] {
  const groups = new Map<string, EntryAmount[]>()
  for (const e of entries) {
    if (!(e.start < e.end)) throw analyticsError('ANALYTICS_ERR_INPUT', `entry ${e.id}: expected start < end, got [${e.start}, ${e.end})`)
    if (e.end <= window.start || e.start >= window.end) continue
    const key = `${e.carrier}|${e.direction}`
    const list = groups.get(key)
    if (list) list.push(e)
    else groups.set(key, [e])
  }
  const out: CarrierFlow[] = []
  for (const list of groups.values()) out.push(entryGroupFlow(list, window, table))
  return out
}

function entryGroupFlow(list: readonly EntryAmount[], window: TimeRange, table: CoalTable): CarrierFlow {
  const first = list[0] as EntryAmount
  let amount = 0
  let kgce = 0
  let ncvAmount = 0
  let ncvKj = 0
  let coefAmount = 0
  let coef: ReturnType<typeof coefficientOf> | undefined
  let c: CarrierInfo | undefined
  for (const e of list) {
    const share = (Math.min(e.end, window.end) - Math.max(e.start, window.start)) / (e.end - e.start)
    const k = (() => {
      try {
        return carrierKgce(e, table)
      } catch (err) {
        throw analyticsError('ANALYTICS_ERR_INPUT', `entry ${e.id}: ${(err as Error).message}`, (err as { details?: unknown }).details)
      }
    })()
    c = carrierInfo(k.carrier)
    amount += k.amount * share
    kgce += k.kgce * share
    if (k.conversion.method === 'measured-ncv') {
      ncvAmount += k.amount * share
      ncvKj += k.kgce * share * KJ_PER_KGCE
    } else {
      coefAmount += k.amount * share
      coef = k.conversion
    }
  }
  const info = c as CarrierInfo
  const method = ncvAmount > 0 && coefAmount > 0 ? 'mixed' : ncvAmount > 0 ? 'measured-ncv' : 'coefficient'
  const base = coef ?? coefficientOf(info, table)
  const conversion: FlowConversion = {
    method,
    kgcePerUnit: amount > 0 ? kgce / amount : base.kgcePerUnit,
    unit: info.unit,
    tableVersion: base.tableVersion,
    source:
      method === 'coefficient'
        ? base.source
        : `measured low calorific value (实测低位发热量) ÷ ${KJ_PER_KGCE} kJ/kgce${method === 'mixed' ? `; the rest ${base.tableVersion}: ${base.source}` : ''}`,
    ...(ncvAmount > 0 ? { ncvKjPerUnit: ncvKj / ncvAmount, ncvAmount } : {}),
    verified: method === 'measured-ncv' ? true : base.verified,
  }
  const len = window.end - window.start
  return {
    carrier: info.id,
    name: info.name,
    nameZh: info.nameZh,
    kind: info.kind,
    direction: first.direction,
    source: 'entry',
    amount,
    unit: info.unit,
    kgce: first.direction === 'export' ? -kgce : kgce,
    coverage: len > 0 ? coveredMs(list, window) / len : 0,
    conversion,
    refs: list.map((e) => e.id),
  }
}

/** Sums flows into comprehensive energy (kgce, tce), with the carriers present and unverified. */
export function comprehensiveEnergy(flows: readonly CarrierFlow[], table: CoalTable = DEFAULT_REFERENCE.coal): ComprehensiveEnergy {
  const kgce = flows.reduce((s, f) => s + f.kgce, 0)
  const carriers = [...new Set(flows.map((f) => f.carrier))]
  const unverified = [...new Set(flows.filter((f) => !f.conversion.verified).map((f) => f.carrier))]
  const el = table.coefficients.find((x) => x.carrier === 'electricity')
  return {
    kgce,
    tce: kgce / 1000,
    flows: [...flows],
    carriers,
    unverified,
    basis: {
      standard: GBT2589,
      electricity: `equivalent value (当量值) ${el?.kgcePerUnit ?? 'n/a'} kgce/kWh`,
      tableVersion: table.version,
      kjPerKgce: KJ_PER_KGCE,
    },
  }
}

/** Adds flows of the same carrier, direction and source (for roll-ups); coverage = the lowest. */
export function mergeFlows(flows: readonly CarrierFlow[]): CarrierFlow[] {
  const out = new Map<string, CarrierFlow>()
  for (const f of flows) {
    const key = `${f.carrier}|${f.direction}|${f.source}`
    const prev = out.get(key)
    if (!prev) {
      out.set(key, { ...f, conversion: { ...f.conversion }, refs: [...f.refs] })
      continue
    }
    const amount = prev.amount + f.amount
    const kgce = prev.kgce + f.kgce
    const ncvA = ncvAmountOf(prev) + ncvAmountOf(f)
    const ncvKj = ncvAmountOf(prev) * (prev.conversion.ncvKjPerUnit ?? 0) + ncvAmountOf(f) * (f.conversion.ncvKjPerUnit ?? 0)
    const method = prev.conversion.method === f.conversion.method ? prev.conversion.method : 'mixed'
    out.set(key, {
      ...prev,
      amount,
      kgce,
      coverage: Math.min(prev.coverage, f.coverage),
      conversion: {
        ...prev.conversion,
        method,
        kgcePerUnit: amount > 0 ? Math.abs(kgce) / amount : prev.conversion.kgcePerUnit,
        ...(ncvA > 0 ? { ncvKjPerUnit: ncvKj / ncvA, ncvAmount: ncvA } : {}),
        verified: prev.conversion.verified && f.conversion.verified,
      },
      refs: [...prev.refs, ...f.refs],
    })
  }
  return [...out.values()]
}

function ncvAmountOf(f: CarrierFlow): number {
  return f.conversion.ncvAmount ?? 0
}

/** Signed amount per carrier (import − export), carrier unit; e.g. the kWh an electricity-only indicator grades. */
export function netAmount(flows: readonly CarrierFlow[], carrier: string): number {
  return flows.filter((f) => f.carrier === carrier).reduce((s, f) => s + (f.direction === 'export' ? -f.amount : f.amount), 0)
}
