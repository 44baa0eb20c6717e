/** Province and city roll-ups of the enterprises' figures: sums and pooled rates, never means of rates. */
import type { ProvinceConfig } from './config.ts'
import type { EnterpriseFigures, MonthRange } from './overview.ts'

export interface GroupFigures {
  enterprises: number
  comprehensiveEnergyTce: number
  /** Enterprises whose monthly comprehensive energy is missing (not in the sum). */
  comprehensiveEnergyMissing: number
  keyProcesses: number
  ncProcesses: number
  /** Σ NC key processes / Σ key processes (0..1). */
  ncRate: number | null
  keyDevices: number
  /** Σ online shares / Σ key devices: the share of key-device time online (0..1). */
  networkingRate: number | null
  /** Σ received / Σ expected 15-minute boundary records (0..1). */
  completeness: number | null
  timeliness: number | null
  late: number
  missing: number
  behind: number
}

export function groupFigures(list: readonly EnterpriseFigures[]): GroupFigures {
  let tce = 0
  let tceMissing = 0
  let keyProcesses = 0
  let ncProcesses = 0
  let keyDevices = 0
  let online = 0
  let expected = 0
  let received = 0
  let late = 0
  let missing = 0
  let behind = 0
  for (const e of list) {
    if (e.comprehensiveEnergyTce === null) tceMissing++
    else tce += e.comprehensiveEnergyTce
    keyProcesses += e.keyProcesses
    ncProcesses += e.ncProcesses
    keyDevices += e.keyDevices
    online += (e.networkingRate ?? 0) * e.keyDevices
    expected += e.quality.expected
    received += e.quality.received
    late += e.quality.late
    missing += e.quality.expected - e.quality.received + e.quality.missingDays + e.quality.missingMonthly
    if (e.quality.behind.length > 0) behind++
  }
  return {
    enterprises: list.length,
    comprehensiveEnergyTce: tce,
    comprehensiveEnergyMissing: tceMissing,
    keyProcesses,
    ncProcesses,
    ncRate: keyProcesses === 0 ? null : ncProcesses / keyProcesses,
    keyDevices,
    networkingRate: keyDevices === 0 ? null : online / keyDevices,
    completeness: expected === 0 ? null : received / expected,
    timeliness: received === 0 ? null : 1 - late / received,
    late,
    missing,
    behind,
  }
}

export interface ProvinceOverview {
  province: string
  period: MonthRange
  basis: Record<string, string>
  progress: {
    target: number
    /** Recognitions declared in the registry (document number and date): smart factories, plus digital workshops counted per workshop. */
    recognised: { smartFactories: number; digitalWorkshops: number; total: number; progressPct: number }
    /** Indicator-based self-assessment — not a recognition. */
    selfAssessment: { label: string; enterprises: number; rule: string }
  }
  nc: { rate: number | null; targetPct: number; scope: string; meetsTarget: boolean | null }
  totals: GroupFigures
  products: { product: string; unit: string; benchmark: number; compliant: number; below_baseline: number; ungraded: number }[]
  rankings: {
    byComprehensiveEnergy: { rank: number; id: string; name: string; city: string; tce: number }[]
    byCompleteness: { rank: number; id: string; name: string; completeness: number | null }[]
  }
  cities: ({ city: string } & GroupFigures)[]
  behind: { id: string; name: string; city: string; reasons: string[]; lastUploadAt: number | null }[]
}

function productLevels(list: readonly EnterpriseFigures[]): ProvinceOverview['products'] {
  const out = new Map<string, ProvinceOverview['products'][number]>()
  for (const e of list) {
    for (const p of e.products) {
      const key = `${p.product}|${p.unit}`
      const row = out.get(key) ?? { product: p.product, unit: p.unit, benchmark: 0, compliant: 0, below_baseline: 0, ungraded: 0 }
      if (p.grade === 'benchmark' || p.grade === 'compliant' || p.grade === 'below_baseline') row[p.grade]++
      else row.ungraded++
      out.set(key, row)
    }
  }
  return [...out.values()].sort((a, b) => a.product.localeCompare(b.product))
}

export function provinceOverview(cfg: Readonly<ProvinceConfig>, period: MonthRange, list: readonly EnterpriseFigures[]): ProvinceOverview {
  const totals = groupFigures(list)
  const smartFactories = list.reduce((n, e) => n + e.recognitions.filter((r) => r.kind === 'smart_factory').length, 0)
  const digitalWorkshops = list.reduce((n, e) => n + e.recognitions.filter((r) => r.kind === 'digital_workshop').length, 0)
  const t = cfg.target
  const cities = new Map<string, EnterpriseFigures[]>()
  for (const e of list) cities.set(e.city, [...(cities.get(e.city) ?? []), e])
  const ranked = list.filter((e) => e.comprehensiveEnergyTce !== null).sort((a, b) => (b.comprehensiveEnergyTce ?? 0) - (a.comprehensiveEnergyTce ?? 0))
  const byQuality = [...list].sort((a, b) => (b.quality.completeness ?? -1) - (a.quality.completeness ?? -1) || a.id.localeCompare(b.id))
  return {
    province: cfg.name,
    period,
    basis: {
      source: 'uploads only: the newest revision of each record (enterprise, indicator, subject, carrier, period, start)',
      comprehensiveEnergy: "the enterprises' uploaded monthly comprehensive energy (kgce, their basis per record) / 1000 = tce",
      ncRate: 'Σ key processes under NC / Σ key processes (per key process, not per device), monthly records',
      networkingRate: 'Σ online share of each key device over the month / Σ key devices (over the period, not a snapshot)',
      completeness: `Σ received / Σ expected 15-minute boundary records per carrier, closed quarters of the month; threshold ${cfg.quality.completenessPct} %`,
      consistency: `Σ daily boundary energy vs the monthly record, within ±${cfg.quality.consistencyPct} %`,
      timeliness: `a 15-minute record received more than ${cfg.quality.lateAfterS} s after its end is late`,
    },
    progress: {
      target: t.smartFactoriesAndWorkshops,
      recognised: {
        smartFactories,
        digitalWorkshops,
        total: smartFactories + digitalWorkshops,
        progressPct: ((smartFactories + digitalWorkshops) / t.smartFactoriesAndWorkshops) * 100,
      },
      selfAssessment: {
        label: 'indicator-based self-assessment, not a recognition',
        enterprises: list.filter((e) => e.selfAssessed).length,
        rule: `key-process NC rate ≥ ${t.selfAssessNcPct} % and key-device networking rate ≥ ${t.selfAssessOnlinePct} % over the month`,
      },
    },
    nc: {
      rate: totals.ncRate,
      targetPct: t.ncRatePct,
      scope: t.ncTargetScope === 'province' ? 'province-wide target (2017), not a per-enterprise threshold' : 'each enterprise held to the target (configured)',
      meetsTarget: totals.ncRate === null ? null : totals.ncRate * 100 >= t.ncRatePct,
    },
    totals,
    products: productLevels(list),
    rankings: {
      byComprehensiveEnergy: ranked.map((e, i) => ({ rank: i + 1, id: e.id, name: e.name, city: e.city, tce: e.comprehensiveEnergyTce ?? 0 })),
      byCompleteness: byQuality.map((e, i) => ({ rank: i + 1, id: e.id, name: e.name, completeness: e.quality.completeness })),
    },
    cities: [...cities].map(([city, es]) => ({ city, ...groupFigures(es) })).sort((a, b) => a.city.localeCompare(b.city)),
    behind: list
      .filter((e) => e.quality.behind.length > 0)
      .map((e) => ({ id: e.id, name: e.name, city: e.city, reasons: e.quality.behind, lastUploadAt: e.lastUploadAt })),
  }
}
