/**
 * The commission's view of the province, computed from uploads only (the newest revision of each
 * record): programme progress, NC and networking rates as the programme defines them, efficiency
 * levels per product, comprehensive energy, rankings, city roll-ups and data quality.
 */
import { PlantWattError } from '../core/errors.ts'
import { localDateTime, startOfLocalDate } from '../core/windows.ts'
import type { ProvinceConfig } from './config.ts'
import { enterpriseQuality, QUARTERS_PER_DAY, type EnterpriseQuality } from './quality.ts'
import type { EnterpriseRegistry, RegisteredEnterprise } from './registry.ts'
import type { ProvinceStore, StoredRecord } from './store.ts'

export interface MonthRange {
  month: string
  start: number
  end: number
  timezone: string
}

/** `YYYY-MM` in the province's zone; default the month before `now`'s. PROVINCE_ERR_QUERY for a bad one. */
export function monthRange(month: string | undefined, now: number, timezone: string): MonthRange {
  let y: number
  let m: number
  if (month === undefined) {
    const l = localDateTime(now, timezone)
    y = l.month === 1 ? l.year - 1 : l.year
    m = l.month === 1 ? 12 : l.month - 1
  } else {
    const match = /^(\d{4})-(\d{2})$/.exec(month)
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 12) throw new PlantWattError('PROVINCE_ERR_QUERY', `month: ${month} is not YYYY-MM`)
    y = Number(match[1])
    m = Number(match[2])
  }
  const start = startOfLocalDate(y, m, 1, timezone)
  const end = startOfLocalDate(y, m + 1, 1, timezone)
  return { month: `${y}-${String(m).padStart(2, '0')}`, start, end, timezone }
}

export interface ProductFigure {
  product: string
  value: number
  unit: string
  grade: string
  basis: string
}

export interface EnterpriseFigures {
  id: string
  name: string
  city: string
  industry: string
  keyUnitLevel: string
  /** Boundary energy per carrier over the month, as uploaded. */
  energy: { carrier: string; value: number; unit: string }[]
  /** Monthly comprehensive energy at the boundary, tce (uploaded kgce / 1000); null when not uploaded. */
  comprehensiveEnergyTce: number | null
  comprehensiveEnergyBasis: string | null
  keyProcesses: number
  ncProcesses: number
  /** NC key processes / key processes (0..1); null without key processes. */
  ncRate: number | null
  /** Enterprise held to the NC target (ncTargetScope = enterprise); null when the target is province-wide. */
  meetsNcTarget: boolean | null
  keyDevices: number
  /** Mean online share of the key devices over the month (0..1); null without key devices. */
  networkingRate: number | null
  products: ProductFigure[]
  recognitions: RegisteredEnterprise['recognitions']
  /** Indicator-based self-assessment, not a recognition: NC rate and networking rate at or above the configured levels. */
  selfAssessed: boolean
  quality: EnterpriseQuality
  lastUploadAt: number | null
}

function byEnterprise(records: readonly StoredRecord[]): Map<string, StoredRecord[]> {
  const out = new Map<string, StoredRecord[]>()
  for (const r of records) {
    const list = out.get(r.enterprise)
    if (list) list.push(r)
    else out.set(r.enterprise, [r])
  }
  return out
}

interface Period {
  closedQuarters: number
  closedDays: number
  monthClosed: boolean
}

function periodOf(range: MonthRange, now: number): Period {
  const upTo = Math.min(now, range.end)
  const elapsed = Math.max(0, upTo - range.start)
  return { closedQuarters: Math.floor(elapsed / 900_000), closedDays: Math.floor(elapsed / 86_400_000), monthClosed: now >= range.end }
}

function figuresOf(
  e: RegisteredEnterprise,
  month: readonly StoredRecord[],
  quality: EnterpriseQuality,
  cfg: Readonly<ProvinceConfig>,
  lastUploadAt: number | null,
): EnterpriseFigures {
  const boundary = month.filter((r) => r.subject === 'boundary')
  const comprehensive = boundary.find((r) => r.indicator === 'comprehensive_energy')
  const processes = month.filter((r) => r.indicator === 'key_process_nc')
  const devices = month.filter((r) => r.indicator === 'equipment_online')
  const ncProcesses = processes.filter((r) => r.value >= 1).length
  const ncRate = processes.length === 0 ? null : ncProcesses / processes.length
  const networkingRate = devices.length === 0 ? null : devices.reduce((s, r) => s + Math.min(1, Math.max(0, r.value)), 0) / devices.length
  const t = cfg.target
  return {
    id: e.id,
    name: e.name,
    city: e.city,
    industry: e.industry,
    keyUnitLevel: e.keyUnitLevel,
    energy: boundary.filter((r) => r.indicator === 'energy').map((r) => ({ carrier: r.carrier ?? '', value: r.value, unit: r.unit })),
    comprehensiveEnergyTce: comprehensive ? (comprehensive.unit === 'tce' ? comprehensive.value : comprehensive.value / 1000) : null,
    comprehensiveEnergyBasis: comprehensive?.basis ?? null,
    keyProcesses: processes.length,
    ncProcesses,
    ncRate,
    meetsNcTarget: t.ncTargetScope === 'enterprise' && ncRate !== null ? ncRate * 100 >= t.ncRatePct : null,
    keyDevices: devices.length,
    networkingRate,
    products: month
      .filter((r) => r.indicator === 'unit_consumption')
      .map((r) => ({ product: r.subject.slice('product/'.length), value: r.value, unit: r.unit, grade: r.grade ?? 'ungraded', basis: r.basis })),
    recognitions: e.recognitions,
    selfAssessed: ncRate !== null && networkingRate !== null && ncRate * 100 >= t.selfAssessNcPct && networkingRate * 100 >= t.selfAssessOnlinePct,
    quality,
    lastUploadAt,
  }
}

/** Every registered enterprise's figures for the month (one pass over the month's records). */
export function enterpriseFigures(
  store: ProvinceStore,
  registry: EnterpriseRegistry,
  cfg: Readonly<ProvinceConfig>,
  range: MonthRange,
  now: number,
): EnterpriseFigures[] {
  const period = periodOf(range, now)
  const month = byEnterprise(store.monthRecords(range.start))
  const counts = new Map<string, ReturnType<ProvinceStore['quarterCounts']>>()
  for (const c of store.quarterCounts(range.start, range.end)) {
    const list = counts.get(c.enterprise)
    if (list) list.push(c)
    else counts.set(c.enterprise, [c])
  }
  const days = new Map<string, Map<string, { sum: number; days: number }>>()
  for (const d of store.dayTotals(range.start, range.end)) {
    const m = days.get(d.enterprise) ?? new Map<string, { sum: number; days: number }>()
    m.set(d.carrier, { sum: d.sum, days: d.days })
    days.set(d.enterprise, m)
  }
  const last = store.lastUploads()
  return registry.all().map((e) => {
    const records = month.get(e.id) ?? []
    const monthByCarrier = new Map(records.filter((r) => r.indicator === 'energy' && r.subject === 'boundary').map((r) => [r.carrier ?? '', r.value]))
    const quality = enterpriseQuality(
      { carriers: e.carriers, ...period, counts: counts.get(e.id) ?? [], days: days.get(e.id) ?? new Map(), month: monthByCarrier },
      cfg.quality,
    )
    return figuresOf(e, records, quality, cfg, last.get(e.id) ?? null)
  })
}

export { QUARTERS_PER_DAY }
