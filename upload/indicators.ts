/**
 * What the enterprise uploads, computed by the plant's own reports so that plant and province never
 * disagree. `IndicatorProvider` is the seam (a province's own indicator set is another provider);
 * `PlantReportsProvider` uses comprehensiveReport for the daily and monthly boundary energy by carrier
 * and comprehensive energy (kgce, GB/T 2589-2020, every carrier metered or entered), energyReport for
 * electricity per key process and for the 15-minute series, productionReport / secOf for output and
 * energy per unit of product.
 */
import { calendarWindows, rollupEnergy, type Bucket, type RollupNode, type TimeRange } from '../analytics/index.ts'
import type { PlantModel } from '../core/plant.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { deviceBucketAmounts, energyReport, productionReport, scopeTimezone, type ReportDeps } from '../reports/energy.ts'
import { secOf } from '../reports/sec.ts'
import { comprehensiveReport, type ComprehensiveReport } from '../reports/comprehensive.ts'
import { linesOf, modelOfScope, type Scope } from '../reports/scope.ts'
import type { IndicatorRecord, PeriodKind } from '../province/message.ts'

/** A record before the outbox gives it a revision. */
export type Indicator = Omit<IndicatorRecord, 'revision'>

export interface IndicatorProvider {
  /** Says what computed the figures (shown in the plant UI and the report). */
  readonly name: string
  /** Every indicator of every closed `kind` period inside `range` (range aligned to those periods). */
  indicators(kind: PeriodKind, range: TimeRange): Promise<Indicator[]>
}

const ELECTRICITY = 'electricity'

function lineNodes(node: RollupNode): RollupNode[] {
  if (node.level === 'line') return [node]
  if (node.level === 'device') return []
  return node.children.flatMap(lineNodes)
}

/** A line of the enterprise that holds key equipment is a key process (关键工序); its id on the wire. */
export interface KeyProcess {
  path: string
  id: string
  /** Every key device of the process is NC-capable. */
  nc: boolean
  /** id on the wire: `<process>_<device>` (device ids repeat across lines) */
  keyDevices: { path: string; id: string; ncCapable: boolean }[]
}

export function keyProcessesOf(model: PlantModel, enterprise: string): KeyProcess[] {
  const e = model.enterprises.find((x) => x.id === enterprise)
  if (!e) return []
  const lines = e.sites.flatMap((s) => s.lines.map((l) => ({ s, l })))
  const count = new Map<string, number>()
  for (const { l } of lines) count.set(l.id, (count.get(l.id) ?? 0) + 1)
  return lines.flatMap(({ s, l }) => {
    const keys = l.devices.filter((d) => d.keyEquipment)
    if (keys.length === 0) return []
    const id = (count.get(l.id) ?? 0) > 1 ? `${s.id}_${l.id}`.slice(0, 64) : l.id
    const path = `${e.id}/${s.id}/${l.id}`
    return [
      {
        path,
        id,
        nc: keys.every((d) => d.ncCapable),
        keyDevices: keys.map((d) => ({ path: `${path}/${d.id}`, id: `${id}_${d.id}`.slice(0, 64), ncCapable: d.ncCapable })),
      },
    ]
  })
}

/** The enterprise's model with only what energyReport counts (meters and main meters). */
function meterModel(model: PlantModel, enterprise: string): PlantModel {
  const cut = modelOfScope(model, { enterprise })
  for (const e of cut.enterprises)
    for (const s of e.sites) s.lines = s.lines.map((l) => ({ ...l, devices: l.devices.filter((d) => d.kind === 'meter' || d.id === l.mainMeter) }))
  return cut
}

export class PlantReportsProvider implements IndicatorProvider {
  readonly name =
    'plant reports: comprehensiveReport (boundary energy by carrier, kgce; day and month), energyReport (15-minute and key-process electricity), productionReport / secOf'
  readonly #scope: Scope
  readonly #processes: KeyProcess[]

  constructor(
    private readonly deps: ReportDeps,
    private readonly enterprise: string,
  ) {
    this.#scope = { enterprise }
    this.#processes = keyProcessesOf(deps.model, enterprise)
  }

  async indicators(kind: PeriodKind, range: TimeRange): Promise<Indicator[]> {
    if (kind === '15m') return this.#quarters(range)
    const granularity = kind === 'day' ? 'day' : 'month'
    const report = await energyReport(this.deps, this.#scope, range, granularity)
    const comprehensive = await comprehensiveReport(this.deps, this.#scope, range, granularity)
    const out = [...this.#boundaryRecords(kind, comprehensive), ...this.#energyRecords(kind, report.node, false)]
    if (kind === 'month') out.push(...(await this.#monthExtras(range, report)))
    return out
  }

  /** Boundary energy by carrier (imports − exports, carrier unit) and comprehensive energy (kgce) per bucket. */
  #boundaryRecords(kind: PeriodKind, c: ComprehensiveReport): Indicator[] {
    const basis = `comprehensiveReport ${kind}: ${c.basis.standard}, electricity ${c.basis.electricity}, table ${c.basis.tableVersion}${c.entriesRead ? '' : ' (no entries read)'}`
    const out: Indicator[] = []
    for (const b of c.node.buckets) {
      // a period without any data is not reported (as for the 15-minute series)
      if (b.flows.length === 0 || (b.coverage === 0 && b.kgce === 0)) continue
      const at = { period: kind, start: b.start, end: b.end, subject: 'boundary' }
      const carriers = new Map<string, { amount: number; unit: string; coverage: number }>()
      for (const f of b.flows) {
        const x = carriers.get(f.carrier) ?? { amount: 0, unit: f.unit, coverage: 1 }
        x.amount += f.direction === 'export' ? -f.amount : f.amount
        x.coverage = Math.min(x.coverage, f.coverage)
        carriers.set(f.carrier, x)
      }
      for (const [carrier, x] of carriers) out.push({ ...at, indicator: 'energy', carrier, value: x.amount, unit: x.unit, coverage: x.coverage, basis })
      out.push({ ...at, indicator: 'comprehensive_energy', value: b.kgce, unit: 'kgce', coverage: b.coverage, basis })
    }
    return out
  }

  /** Boundary and key-process electricity per bucket of a roll-up tree. */
  #energyRecords(kind: PeriodKind, node: RollupNode, boundary: boolean): Indicator[] {
    const basis = `energyReport ${kind} (counters of the boundary meters, plant-model roll-up)`
    const byPath = new Map(lineNodes(node).map((n) => [n.path, n]))
    const out: Indicator[] = []
    node.buckets.forEach((b, i) => {
      const base = { indicator: 'energy' as const, carrier: ELECTRICITY, period: kind, start: b.start, end: b.end, unit: 'kWh', basis }
      // a period without any data is not reported (the province counts it missing); coverage is the
      // worst meter's, so a period with energy from some meters is reported with its coverage
      if (b.coverage === 0 && b.energyKwh === 0) return
      if (boundary) out.push({ ...base, subject: 'boundary', value: b.energyKwh, coverage: b.coverage })
      for (const p of this.#processes) {
        const lb = byPath.get(p.path)?.buckets[i]
        if (lb) out.push({ ...base, subject: `process/${p.id}`, process: p.id, value: lb.energyKwh, coverage: lb.coverage })
      }
    })
    return out
  }

  /** 15-minute energy: the same counters and roll-up energyReport composes, in quarter-hour buckets. */
  async #quarters(range: TimeRange): Promise<Indicator[]> {
    const lines = linesOf(this.deps.model, this.#scope)
    const tz = scopeTimezone(this.deps.model, lines)
    const buckets: Bucket[] = calendarWindows(range, '15m', tz).map((w) => ({ ...w, label: '' }))
    const model = meterModel(this.deps.model, this.enterprise)
    const devices = model.enterprises.flatMap((e) =>
      e.sites.flatMap((s) => s.lines.flatMap((l) => l.devices.map((d) => ({ enterprise: e.id, site: s.id, line: l.id, device: d.id })))),
    )
    const amounts = await deviceBucketAmounts(this.deps, devices, 'energy_import_kwh', buckets)
    const tree = rollupEnergy(model, buckets, amounts)
    const root = tree.find((n) => n.path === this.enterprise)
    return root ? this.#energyRecords('15m', root, true) : []
  }

  async #monthExtras(range: TimeRange, energy: Awaited<ReturnType<typeof energyReport>>): Promise<Indicator[]> {
    const at = { period: 'month' as const, start: range.start, end: range.end }
    const out: Indicator[] = []
    const production = await productionReport(this.deps, this.#scope, range, 'month')
    const sec = secOf(this.deps, this.#scope, energy, production.rows)
    const products = new Map<string, { output: number; unit: string; energy: number; rows: typeof sec.rows }>()
    for (const r of sec.rows) {
      const p = products.get(r.product) ?? { output: 0, unit: r.unit, energy: 0, rows: [] }
      p.output += r.output
      p.energy += r.energyKwh
      p.rows.push(r)
      products.set(r.product, p)
    }
    for (const [id, p] of products) {
      const subject = `product/${id}`
      out.push({ ...at, indicator: 'output', subject, value: p.output, unit: p.unit, basis: 'productionReport month (output counter)' })
      const one = p.rows.length === 1 ? p.rows[0] : undefined
      if (one && one.value !== null && one.benchmarkUnit !== null) {
        out.push({
          ...at,
          indicator: 'unit_consumption',
          subject,
          value: one.value,
          unit: one.benchmarkUnit,
          grade: one.grade ?? 'ungraded',
          basis: `secOf month against ${one.benchmarkProduct} (${one.basis ?? 'no'} levels), electricity only`,
        })
      } else if (p.output > 0) {
        out.push({
          ...at,
          indicator: 'unit_consumption',
          subject,
          value: p.energy / p.output,
          unit: `kWh/${p.unit}`,
          grade: 'ungraded',
          basis: 'Σ line kWh / Σ output (no single benchmark line)',
        })
      }
    }
    out.push(...(await this.#equipment(range)))
    return out
  }

  /** Key processes (NC or not) and each key device's online share of the month (quarters with telemetry / quarters). */
  async #equipment(range: TimeRange): Promise<Indicator[]> {
    const at = { period: 'month' as const, start: range.start, end: range.end }
    const out: Indicator[] = this.#processes.map((p) => ({
      ...at,
      indicator: 'key_process_nc' as const,
      subject: `process/${p.id}`,
      value: p.nc ? 1 : 0,
      unit: 'flag',
      basis: 'plant model: every key device of the process is NC-capable',
    }))
    const quarters = Math.max(1, Math.round((range.end - range.start) / 900_000))
    const rows = await this.deps.store.aggregate({
      measurement: TELEMETRY_MEASUREMENT,
      fields: ['seq'],
      filter: { enterprise: this.enterprise },
      start: range.start,
      stop: range.end,
      every: '15m',
      fn: 'count',
      groupBy: ['site', 'line', 'device'],
      timezone: this.deps.model.timezone,
    })
    const seen = new Map<string, number>()
    for (const r of rows) {
      const key = `${this.enterprise}/${r.tags.site}/${r.tags.line}/${r.tags.device}`
      seen.set(key, (seen.get(key) ?? 0) + 1)
    }
    for (const p of this.#processes) {
      for (const d of p.keyDevices) {
        out.push({
          ...at,
          indicator: 'equipment_online',
          subject: `device/${d.id}`,
          process: p.id,
          ncCapable: d.ncCapable,
          value: Math.min(1, (seen.get(d.path) ?? 0) / quarters),
          unit: 'share',
          basis: 'quarters of the month with telemetry from the device / quarters of the month',
        })
      }
    }
    return out
  }
}
