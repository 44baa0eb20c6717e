import {
  billingDemand,
  compileTariff,
  counterIncrements,
  DEFAULT_REFERENCE,
  startOfLocalDate,
  stepEnergyFromIntervals,
  stepEnergyFromPower,
  sumStepEnergy,
  versionStarts,
  type BillingDemand,
  type CompiledTariff,
  type CounterOptions,
  type Increment,
  type Sample,
  type StepEnergy,
  type Tariff,
  type TariffVersion,
  type TimeRange,
} from '../analytics/index.ts'
import {
  basicCharge,
  powerFactorAdjustment,
  priceStepEnergy,
  staleVersionWarning,
  type BasicCharge,
  type BillingBasis,
  type PowerFactorAdjustment,
} from '../analytics/billing.ts'
import { MINUTE_MS } from '../core/duration.ts'
import { deviceKey } from '../core/plant.ts'
import { addressOfTags } from '../core/topic.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { findAccount, tariffOfAccount, type AccountTariff, type SupplyAccount } from './accounts.ts'
import { counterContexts, counterReadings, readingIncrements, type DeviceCounterContext, type ReportDeps } from './energy.ts'
import { reportError } from './errors.ts'
import { deviceFilter } from './scope.ts'
import { cacheAnswer, cachedAnswer, ensureRollup } from './counter-rollup.ts'

/**
 * The bill check (issue #16 item 6): what the utility's bill of one supply account for one month
 * should say — energy by TOU period, the basic charge on its basis, the 力调 adjustment, the total —
 * next to the meter readings it came from. Demand is billing grade: a sliding window (15 min slipping
 * 1 min by default) over 1-minute energy of the account's meters summed, the fixed quarter hours alongside.
 */

export interface BillOptions {
  /** Demand period, ms; default 15 min. */
  periodMs?: number
  /** Demand slip, ms; default 1 min. */
  slipMs?: number
}

/** One meter's readings at the ends of the month (to date). */
export interface BillReading {
  meter: string
  quantity: string
  startTs: number | null
  startValue: number | null
  endTs: number | null
  endValue: number | null
  /** Σ increments inside the month (resets and gaps handled as in energy reports). */
  amount: number
  unit: string
}

/** One line of the bill: the table `rows` (CSV). */
export interface BillRow {
  section: 'energy' | 'basic-charge' | 'power-factor' | 'total' | 'reading'
  item: string
  quantity: number | null
  unit: string
  price: number | null
  amount: number | null
  /** What the figure rests on: tariff version, rule, window, meter. */
  basis: string
}

export interface Bill {
  account: string
  accountName: string
  accountOrigin: SupplyAccount['origin']
  month: string
  timezone: string
  start: number
  /** End of what is billed: the month's end, or now for the running month. */
  end: number
  /** complete: the whole month is in the past; to-date: the running month, a charge implied by demand so far. */
  status: 'complete' | 'to-date'
  currency: string
  tariff: {
    id: string
    version: string
    effectiveFrom: string
    pricing: AccountTariff['pricing']
    chosenBy: AccountTariff['chosenBy']
    reason: string
    source: string
  }
  energyKwh: number
  energyCost: number
  /** Energy by TOU period (price: energy-weighted when versions change inside the month). */
  periods: Array<{ period: string; energyKwh: number; pricePerKwh: number; cost: number }>
  demand: BillingDemand & { basis: string }
  basicCharge: (BasicCharge & { basisText: string }) | null
  powerFactor: (PowerFactorAdjustment & { reactiveSource: string }) | null
  totalCost: number
  /** Lowest minute coverage of the meters' data over the month (to date). */
  coverage: number
  rows: BillRow[]
  readings: BillReading[]
  warnings: string[]
}

/** The local month [start, end) of 'YYYY-MM'. */
export function monthRange(month: string, timezone: string): TimeRange {
  const m = /^(\d{4})-(\d{2})$/.exec(month)
  const y = Number(m?.[1])
  const mo = Number(m?.[2])
  if (!m || mo < 1 || mo > 12) throw reportError('REPORTS_ERR_INPUT', `month ${JSON.stringify(month)} is not YYYY-MM`, { field: 'month' })
  return { start: startOfLocalDate(y, mo, 1, timezone), end: mo === 12 ? startOfLocalDate(y + 1, 1, 1, timezone) : startOfLocalDate(y, mo + 1, 1, timezone) }
}

/** Per-minute first values of a quantity of the meters, from an hour before the range to a minute after it. */
async function minuteSeries(deps: ReportDeps, meters: SupplyAccount['meters'], quantity: string, fn: 'first' | 'mean', range: TimeRange, timezone: string) {
  const rows = await deps.store.aggregate({
    measurement: TELEMETRY_MEASUREMENT,
    fields: [quantity],
    filter: deviceFilter(meters),
    start: range.start - 60 * MINUTE_MS,
    stop: range.end + MINUTE_MS,
    every: '1m',
    fn,
    groupBy: ['enterprise', 'site', 'line', 'device'],
    timezone,
  })
  const out = new Map<string, Sample[]>()
  for (const r of rows) {
    const key = deviceKey(addressOfTags(r.tags))
    let list = out.get(key)
    if (!list) out.set(key, (list = []))
    list.push({ ts: r.windowStart, value: r.value })
  }
  return out
}

interface MeterData {
  steps: StepEnergy[]
  readings: BillReading[]
  missing: string[]
}

/** What one meter's month of a counter comes to; cached per settled month (see `perMeter`). */
interface MeterCounter {
  steps: StepEnergy | null
  reading: BillReading | null
}

/**
 * `process` of each meter's 1-minute counter series (undefined: no data). With `deps.rollup`, the
 * result for a meter whose data is settled (roll-up watermark past the month by `rereadMs`) is kept
 * in the roll-up's answer cache under its generation, so an import that invalidates it is seen.
 */
async function perMeter(
  deps: ReportDeps,
  account: SupplyAccount,
  quantity: string,
  range: TimeRange,
  tag: string,
  process: (key: string, samples: readonly Sample[] | undefined, context: DeviceCounterContext | undefined) => MeterCounter,
): Promise<Map<string, MeterCounter>> {
  const out = new Map<string, MeterCounter>()
  const keys = new Map<string, string>()
  // The register modulus and the recorded meter events (a swap, a CT change, a reset): the month's
  // energy is exact across them; a cached answer is keyed by them, so an event recorded later renews it.
  const contexts = await counterContexts(deps, account.meters, quantity, range.end + MINUTE_MS)
  const signature = (key: string): string => {
    const c = contexts.get(key)
    return c ? `${c.modulus ?? ''}#${c.events.signature}` : ''
  }
  const rollup = deps.rollup
  if (rollup && rollup.maxCachedAnswers > 0) {
    const now = deps.now()
    // Up to now, as the cost report does: a watermark only settles a month once it has passed it by rereadMs.
    const { watermarks } = await ensureRollup(deps.store, rollup, account.meters, quantity, range.start - 60 * MINUTE_MS, now, now)
    for (const m of account.meters) {
      const key = deviceKey(m)
      const w = watermarks.get(key)
      if (!w || range.end + MINUTE_MS > w.to - rollup.rereadMs) continue
      const cacheKey = `bill|${tag}|${key}|${quantity}|${w.gen}|${signature(key)}|${range.start}|${range.end}`
      keys.set(key, cacheKey)
      const hit = cachedAnswer<MeterCounter>(rollup, cacheKey)
      if (hit) out.set(key, hit)
    }
  }
  const todo = account.meters.filter((m) => !out.has(deviceKey(m)))
  if (todo.length === 0) return out
  const series = await minuteSeries(deps, todo, quantity, 'first', range, account.timezone)
  for (const m of todo) {
    const key = deviceKey(m)
    const r = process(key, series.get(key), contexts.get(key))
    out.set(key, r)
    const cacheKey = keys.get(key)
    if (rollup && cacheKey !== undefined) cacheAnswer(rollup, cacheKey, r)
  }
  return out
}

function readingOf(meter: string, quantity: string, unit: string, samples: readonly Sample[], range: TimeRange, increments: readonly Increment[]): BillReading {
  let start: Sample | undefined
  let end: Sample | undefined
  for (const s of samples) {
    if (s.ts <= range.start) start = s
    if (s.ts <= range.end) end = s
  }
  start ??= samples.find((s) => s.ts >= range.start)
  return {
    meter,
    quantity,
    startTs: start?.ts ?? null,
    startValue: start?.value ?? null,
    endTs: end?.ts ?? null,
    endValue: end?.value ?? null,
    amount: increments.reduce((s, iv) => s + iv.amount, 0),
    unit,
  }
}

/** Clips increments to a range pro rata by time. */
function clip(increments: readonly Increment[], range: TimeRange): Increment[] {
  const out: Increment[] = []
  for (const iv of increments) {
    const a = Math.max(iv.start, range.start)
    const b = Math.min(iv.end, range.end)
    if (a < b) out.push(a === iv.start && b === iv.end ? iv : { ...iv, start: a, end: b, amount: (iv.amount * (b - a)) / (iv.end - iv.start) })
  }
  return out
}

function counterMonth(
  key: string,
  quantity: string,
  unit: string,
  samples: readonly Sample[] | undefined,
  range: TimeRange,
  slipMs: number | null,
  context: DeviceCounterContext | undefined,
): MeterCounter {
  if (!samples) return { steps: null, reading: null }
  const options: CounterOptions = { maxGapMs: 5 * MINUTE_MS, ...(context?.modulus !== undefined ? { modulus: context.modulus } : {}) }
  if (context && context.events.events.length > 0) options.events = context.events.events
  const incs = clip(counterIncrements(samples, options).increments, range)
  return { steps: slipMs === null ? null : stepEnergyFromIntervals(incs, range, slipMs), reading: readingOf(key, quantity, unit, samples, range, incs) }
}

/** 1-minute energy of each meter: its counter (first value per minute), else its mean active power. */
async function meterEnergy(deps: ReportDeps, account: SupplyAccount, range: TimeRange, slipMs: number): Promise<MeterData> {
  const counters = await perMeter(deps, account, 'energy_import_kwh', range, `e${slipMs}`, (key, samples, context) =>
    counterMonth(key, 'energy_import_kwh', 'kWh', samples, range, slipMs, context),
  )
  const out: MeterData = { steps: [], readings: [], missing: [] }
  const withoutCounter = account.meters.filter((m) => !counters.get(deviceKey(m))?.steps)
  const powers =
    withoutCounter.length > 0 ? await minuteSeries(deps, withoutCounter, 'active_power_kw', 'mean', range, account.timezone) : new Map<string, Sample[]>()
  for (const m of account.meters) {
    const key = deviceKey(m)
    const c = counters.get(key)
    if (c?.steps && c.reading) {
      out.steps.push(c.steps)
      out.readings.push(c.reading)
      continue
    }
    const power = powers.get(key)
    if (!power) {
      out.missing.push(key)
      continue
    }
    // Mean power of each minute, held over it.
    const held: Sample[] = power.flatMap((s) => [s, { ts: s.ts + MINUTE_MS - 1, value: s.value }])
    const steps = stepEnergyFromPower(held, range, slipMs, 2 * MINUTE_MS)
    out.steps.push(steps)
    const amount = steps.energyKwh.reduce((s, x) => s + x, 0)
    out.readings.push({
      meter: key,
      quantity: 'active_power_kw',
      startTs: null,
      startValue: null,
      endTs: null,
      endValue: null,
      amount,
      unit: 'kWh (integrated from power)',
    })
  }
  return out
}

/**
 * Reactive energy of the meters over the range from their quarter-hour counter readings (the roll-up
 * path of every report): import (the 力调 basis) and export alongside; null when a meter has no import counter.
 */
async function reactiveEnergy(
  deps: ReportDeps,
  account: SupplyAccount,
  range: TimeRange,
): Promise<{ importKvarh: number; exportKvarh: number; readings: BillReading[] } | null> {
  const readings: BillReading[] = []
  const sums = { reactive_energy_import_kvarh: 0, reactive_energy_export_kvarh: 0 }
  for (const quantity of ['reactive_energy_import_kvarh', 'reactive_energy_export_kvarh'] as const) {
    const byMeter = await counterReadings(deps, account.meters, quantity, range)
    if (quantity === 'reactive_energy_import_kvarh' && byMeter.size < account.meters.length) return null
    const contexts = await counterContexts(deps, account.meters, quantity, range.end + MINUTE_MS)
    for (const m of account.meters) {
      const key = deviceKey(m)
      const samples = byMeter.get(key)
      if (!samples) continue
      const r = readingOf(key, quantity, 'kvarh', samples, range, clip(readingIncrements(samples, contexts.get(key)).increments, range))
      readings.push(r)
      sums[quantity] += r.amount
    }
  }
  return { importKvarh: sums.reactive_energy_import_kvarh, exportKvarh: sums.reactive_energy_export_kvarh, readings }
}

function versionAt(tariff: Tariff, at: number): TariffVersion {
  const starts = versionStarts(tariff)
  let found = starts[0]
  for (const s of starts) if (s.start <= at) found = s
  if (!found || found.start > at)
    throw reportError('REPORTS_ERR_INPUT', `tariff ${tariff.id}: no version in force at ${new Date(at).toISOString()}`, { field: 'month' })
  return found.version
}

const compiledCache = new WeakMap<Tariff, CompiledTariff>()
function compiled(t: Tariff): CompiledTariff {
  let c = compiledCache.get(t)
  if (!c) compiledCache.set(t, (c = compileTariff(t)))
  return c
}

/** The bill of an account (`enterprise/site/account`) for a local month 'YYYY-MM'. */
export async function billOfAccount(deps: ReportDeps, accountPath: string, month: string, options: BillOptions = {}): Promise<Bill> {
  const periodMs = options.periodMs ?? 15 * MINUTE_MS
  const slipMs = options.slipMs ?? MINUTE_MS
  if (!(slipMs > 0) || periodMs % slipMs !== 0) {
    throw reportError('REPORTS_ERR_INPUT', `the demand slip (${slipMs / MINUTE_MS} min) must divide the period (${periodMs / MINUTE_MS} min)`, {
      field: 'slipMin',
    })
  }
  const account = findAccount(deps.model, accountPath)
  const full = monthRange(month, account.timezone)
  const now = deps.now()
  if (now <= full.start) throw reportError('REPORTS_ERR_INPUT', `month ${month} has not begun`, { field: 'month' })
  const range = { start: full.start, end: Math.min(full.end, now) }
  const status = range.end === full.end ? 'complete' : 'to-date'
  const reference = deps.reference ?? DEFAULT_REFERENCE
  const choice = tariffOfAccount(account, full.start, reference)
  const version = versionAt(choice.tariff, full.start)
  const warnings: string[] = []
  const stale = staleVersionWarning(version.id, version.effectiveFrom, month)
  if (stale) warnings.push(stale)
  if (status === 'to-date')
    warnings.push(`${month} is running: figures to ${new Date(range.end).toISOString()}; the basic charge is the one implied by demand to date`)
  if (account.origin === 'implicit-lines')
    warnings.push(`site ${account.enterprise}/${account.site} has no supply accounts: billed as one account of its lines' meters`)

  const [meters, reactive] = await Promise.all([meterEnergy(deps, account, range, slipMs), reactiveEnergy(deps, account, range)])
  for (const m of meters.missing) warnings.push(`meter ${m} sent no energy data in ${month}: its energy is missing`)
  const grid = sumStepEnergy(meters.steps)
  const demand = billingDemand(grid ?? stepEnergyFromIntervals([], range, slipMs), {
    periodMs,
    slipMs,
    timezone: account.timezone,
  })
  let coverage = grid ? 1 : 0
  if (grid) for (const c of grid.covered) coverage = Math.min(coverage, c)
  if (coverage < 1) warnings.push(`data covers ${(coverage * 100).toFixed(1)} % of the worst minute: demand may be understated`)

  const energy = grid ? priceStepEnergy(grid, compiled(choice.tariff), range.end) : { energyKwh: 0, energyCost: 0, byPeriod: [], byVersion: [] }
  const basic = basicChargeOf(account, choice, version, demand, energy.energyKwh)
  const pfBase = energy.energyCost + (basic?.charge ?? 0)
  let powerFactor: Bill['powerFactor'] = null
  if (reactive) {
    powerFactor = {
      ...powerFactorAdjustment(energy.energyKwh, reactive.importKvarh, account.powerFactorStandard, pfBase),
      reactiveSource: 'reactive_energy_import_kvarh (combined reactive 1)',
    }
  } else warnings.push('a meter has no reactive_energy_import_kvarh counter: no 力调 adjustment computed')
  const totalCost = pfBase + (powerFactor?.adjustment ?? 0)
  const demandBasis = `sliding ${demand.periodMs / MINUTE_MS} min window slipping ${demand.slipMs / MINUTE_MS} min over the meters' summed 1-minute energy; fixed = local ${demand.periodMs / MINUTE_MS}-min windows`
  const bill: Bill = {
    account: account.path,
    accountName: account.name,
    accountOrigin: account.origin,
    month,
    timezone: account.timezone,
    start: range.start,
    end: range.end,
    status,
    currency: version.currency,
    tariff: {
      id: choice.tariff.id,
      version: version.id,
      effectiveFrom: version.effectiveFrom,
      pricing: choice.pricing,
      chosenBy: choice.chosenBy,
      reason: choice.reason,
      source: version.source,
    },
    energyKwh: energy.energyKwh,
    energyCost: energy.energyCost,
    periods: energy.byPeriod.map((p) => ({ period: p.period, energyKwh: p.energyKwh, pricePerKwh: p.pricePerKwh, cost: p.cost })),
    demand: { ...demand, basis: demandBasis },
    basicCharge: basic,
    powerFactor,
    totalCost,
    coverage,
    rows: [],
    readings: [...meters.readings, ...(reactive?.readings ?? [])],
    warnings,
  }
  bill.rows = billRows(bill)
  return bill
}

function basicChargeOf(
  account: SupplyAccount,
  choice: AccountTariff,
  version: TariffVersion,
  demand: BillingDemand,
  monthEnergyKwh: number,
): Bill['basicCharge'] {
  if (choice.pricing !== 'two-part' || version.kind !== 'two-part') return null
  const basis: BillingBasis = account.billingBasis ?? 'actual-demand'
  const c = basicCharge({
    basis,
    maxDemandKw: demand.sliding?.demandKw ?? null,
    monthEnergyKwh,
    ...(account.contractedDemandKw !== undefined ? { contractedDemandKw: account.contractedDemandKw } : {}),
    ...(account.transformerKva !== undefined ? { transformerKva: account.transformerKva } : {}),
    ...(version.demandChargePerKwMonth !== undefined ? { demandPricePerKwMonth: version.demandChargePerKwMonth } : {}),
    ...(version.capacityChargePerKvaMonth !== undefined ? { capacityPricePerKvaMonth: version.capacityChargePerKvaMonth } : {}),
  })
  const basisText =
    basis === 'capacity'
      ? `capacity: ${c.billedQuantity} kVA × ${c.pricePerUnitMonth}/kVA·month (${version.id})`
      : `${basis}: ${c.billedQuantity.toFixed(3)} kW × ${c.pricePerUnitMonth}/kW·month × ${c.priceFactor} (${version.id}); ${c.rules.map((r) => r.text).join('; ') || 'actual maximum (sliding)'}`
  return { ...c, basisText }
}

/** The bill as one table: energy per period, basic charge, 力调, total, then the meter readings. */
function billRows(b: Bill): BillRow[] {
  const rows: BillRow[] = []
  const ver = `${b.tariff.id} ${b.tariff.version} (${b.tariff.effectiveFrom})`
  for (const p of b.periods)
    rows.push({ section: 'energy', item: p.period, quantity: p.energyKwh, unit: 'kWh', price: p.pricePerKwh, amount: p.cost, basis: ver })
  if (b.basicCharge) {
    rows.push({
      section: 'basic-charge',
      item: b.basicCharge.basis,
      quantity: b.basicCharge.billedQuantity,
      unit: b.basicCharge.unit,
      price: b.basicCharge.pricePerUnitMonth * b.basicCharge.priceFactor,
      amount: b.basicCharge.charge,
      basis: `${b.basicCharge.basisText}${b.status === 'to-date' ? '; implied by demand to date' : ''}`,
    })
  }
  if (b.demand.sliding)
    rows.push({
      section: 'basic-charge',
      item: 'max demand (sliding)',
      quantity: b.demand.sliding.demandKw,
      unit: 'kW',
      price: null,
      amount: null,
      basis: `${b.demand.basis}; at ${new Date(b.demand.sliding.start).toISOString()}`,
    })
  if (b.demand.fixed)
    rows.push({
      section: 'basic-charge',
      item: 'max demand (fixed)',
      quantity: b.demand.fixed.demandKw,
      unit: 'kW',
      price: null,
      amount: null,
      basis: `fixed windows, for comparison; at ${new Date(b.demand.fixed.start).toISOString()}`,
    })
  if (b.powerFactor) {
    const pf = b.powerFactor
    rows.push({
      section: 'power-factor',
      item: 'power factor',
      quantity: pf.powerFactorRounded,
      unit: '1',
      price: null,
      amount: null,
      basis: `kWh / √(kWh² + kvarh²) = ${pf.activeKwh.toFixed(2)} / √(${pf.activeKwh.toFixed(2)}² + ${pf.reactiveKvarh.toFixed(2)}²)`,
    })
    rows.push({
      section: 'power-factor',
      item: '力调 adjustment',
      quantity: pf.percent,
      unit: '%',
      price: null,
      amount: pf.adjustment,
      basis: `standard ${pf.standard.toFixed(2)}, 功率因数调整电费办法 ((83)水电财字第215号), on energy + basic charge ${pf.baseCharge.toFixed(2)}`,
    })
  }
  rows.push({
    section: 'total',
    item: 'total',
    quantity: b.energyKwh,
    unit: 'kWh',
    price: null,
    amount: b.totalCost,
    basis: b.status === 'to-date' ? 'month to date' : 'whole month',
  })
  for (const r of b.readings) {
    rows.push({
      section: 'reading',
      item: `${r.meter} ${r.quantity}`,
      quantity: r.amount,
      unit: r.unit,
      price: null,
      amount: null,
      basis: `start ${r.startValue ?? '—'} at ${r.startTs === null ? '—' : new Date(r.startTs).toISOString()}, end ${r.endValue ?? '—'} at ${r.endTs === null ? '—' : new Date(r.endTs).toISOString()}`,
    })
  }
  return rows
}
