import type { Baselines, Carbon, Cost, Energy, Savings, Sec } from '../answers.ts'
import { api, failBox, showError } from '../api.ts'
import { chart } from '../chart.ts'
import { $, el } from '../dom.ts'
import { DAY_MS, fmt, localDate, nextDay, pct } from '../format.ts'
import { t } from '../i18n.ts'
import { allLines, scopeOptions, type LineOfPlant } from '../plant.ts'
import { can, state } from '../state.ts'
import { rowsTable, type Column } from '../table.ts'

// Energy & efficiency (#/energy?scope=&granularity=&start=&stop=): energy, cost and CO2 per bucket,
// SEC graded against the national levels, and a line's baseline with its savings.

const GRANULARITIES = ['hour', 'shift', 'day', 'month'] as const

interface BucketRow {
  bucket: string
  energyKwh: number
  cost: number | null
  kgCo2: number | null
  coverage: number
}

export async function energyView(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const lines = allLines()
  const scope = params.get('scope') || lines[0]?.path || state.plant?.enterprises[0]?.id || ''
  const gran = params.get('granularity') || 'day'
  const tz = state.plant?.timezone || 'Asia/Shanghai'
  const today = localDate(Date.now(), tz)
  const start = params.get('start') || localDate(Date.now() - 6 * DAY_MS, tz)
  const stop = params.get('stop') || today
  const line = lines.find((l) => l.path === scope)
  const scopeSelect = el('select', { id: 'scope' }, scopeOptions(scope))
  const granSelect = el(
    'select',
    { id: 'gran' },
    GRANULARITIES.map((g) => el('option', { value: g, selected: g === gran }, t(g))),
  )
  const startInput = el('input', { id: 'start', type: 'date', value: start })
  const stopInput = el('input', { id: 'stop', type: 'date', value: stop })
  const go = (): void => {
    const q = new URLSearchParams({ scope: scopeSelect.value, granularity: granSelect.value, start: startInput.value, stop: stopInput.value })
    location.hash = `#/energy?${q}`
  }
  main.replaceChildren(
    el(
      'div',
      { class: 'toolbar' },
      el('label', {}, `${t('scope')} `, scopeSelect),
      el('label', {}, `${t('granularity')} `, granSelect),
      el('label', {}, `${t('from')} `, startInput),
      el('label', {}, `${t('to')} `, stopInput),
      el('button', { class: 'primary', id: 'apply', onclick: go }, t('apply')),
    ),
    el('h2', {}, t('energyCostCo2')),
    el('div', { class: 'panel' }, el('div', { class: 'chart', id: 'energy-chart' })),
    el('div', { id: 'energy-table' }),
    el('h2', {}, t('sec')),
    el('div', { id: 'sec-table' }),
    el('h2', {}, t('savings')),
    el('div', { class: 'kpis', id: 'savings-kpis' }),
    el('div', { class: 'panel' }, el('div', { class: 'chart', id: 'savings-chart' })),
    el('div', { id: 'savings-table' }),
  )
  if (!can('reports')) {
    for (const id of ['energy-table', 'sec-table', 'savings-table']) $(id).replaceChildren(el('p', { class: 'empty' }, t('forbidden')))
    return
  }
  const epoch = state.epoch
  // `stop` is the last day shown: the API's stop is exclusive.
  const q = `scope=${encodeURIComponent(scope)}&start=${start}&stop=${nextDay(stop)}`
  const [energy, cost, carbon, sec] = await Promise.allSettled([
    api<Energy>(`energy?${q}&granularity=${gran}`),
    api<Cost>(`cost?${q}&granularity=${gran}`),
    api<Carbon>(`carbon?${q}&granularity=${gran}`),
    api<Sec>(`sec?${q}&granularity=total`),
  ])
  if (epoch !== state.epoch) return
  if (energy.status === 'fulfilled') {
    // One row per bucket: energy, the cost of its tariff periods summed, its CO2.
    const byBucket = new Map(
      energy.value.rows.map((r): [string, BucketRow] => [
        r.bucket,
        { bucket: r.bucket, energyKwh: r.energyKwh, cost: null, kgCo2: null, coverage: r.coverage },
      ]),
    )
    if (cost.status === 'fulfilled')
      for (const r of cost.value.rows) {
        const b = byBucket.get(r.bucket)
        if (b) b.cost = (b.cost ?? 0) + r.cost
      }
    if (carbon.status === 'fulfilled')
      for (const r of carbon.value.rows) {
        const b = byBucket.get(r.bucket)
        if (b) b.kgCo2 = r.kgCo2
      }
    const rows = [...byBucket.values()]
    $('energy-table').replaceChildren(
      rowsTable(rows, [['bucket', 'text'], ['energyKwh'], ['cost', 'num2'], ['kgCo2'], ['coverage', 'pct']], { id: 'energy-rows' }),
    )
    if (rows.length) {
      chart(
        $('energy-chart'),
        [
          { label: 'kWh', values: rows.map((r) => r.energyKwh), bars: true },
          { label: t('cost'), values: rows.map((r) => r.cost), scale: 'cny' },
        ],
        { x: rows.map((_, i) => i), labels: rows.map((r) => r.bucket) },
      ).catch(showError)
    }
  } else $('energy-table').replaceChildren(failBox(energy.reason))
  if (sec.status === 'fulfilled') {
    $('sec-table').replaceChildren(rowsTable(secIndicatorRows(sec.value.rows), SEC_COLUMNS, { id: 'sec-rows' }))
  } else $('sec-table').replaceChildren(failBox(sec.reason))
  await savingsPart(line, start, nextDay(stop), epoch)
}

interface SecIndicatorRow {
  line: string
  product: string
  output: number
  indicator: string
  value: number | null
  benchmarkUnit: string
  ndrcLevel: string | null
  benchmark: number | null
  baseline: number | null
  gapToBenchmarkPct: number | null
  gbLevel: string | null
  ungradedReason: string | null
  conversionBasis: string | null
}

/**
 * One row per graded indicator of each line (the product's and its companions, e.g. clinker 综合能耗 and
 * 综合电耗): the value in the indicator's own unit, the NDRC 标杆/基准 level and the GB quota level as
 * separate columns, the standard, version and conversion basis, or why it is ungraded. A line without
 * a benchmark shows its kWh per unit of output.
 */
function secIndicatorRows(rows: Sec['rows']): SecIndicatorRow[] {
  return rows.flatMap((r): SecIndicatorRow[] => {
    const line = r.line.split('/').slice(1).join('/')
    const base = { line, product: r.product, output: r.output }
    if (r.indicators.length === 0) {
      const none = { ndrcLevel: null, benchmark: null, baseline: null, gapToBenchmarkPct: null, gbLevel: null, conversionBasis: null }
      return [{ ...base, indicator: `kWh/${r.unit}`, value: r.value, benchmarkUnit: `kWh/${r.unit}`, ...none, ungradedReason: r.note }]
    }
    return r.indicators.map((i) => ({
      ...base,
      indicator: i.indicator,
      value: i.value,
      benchmarkUnit: i.unit,
      ndrcLevel: i.ndrc ? i.ndrc.level : null,
      benchmark: i.ndrc ? i.ndrc.benchmark : null,
      baseline: i.ndrc ? i.ndrc.baseline : null,
      gapToBenchmarkPct: i.ndrc ? i.ndrc.gapToBenchmarkPct : null,
      gbLevel: i.gb ? i.gb.labelZh : null,
      conversionBasis: [i.standard, i.benchmarkVersion, i.basis, ...i.warnings].filter((x) => x !== null).join(' · '),
      ungradedReason: i.ungraded ? i.ungraded.reason : null,
    }))
  })
}

const SEC_COLUMNS: Column<SecIndicatorRow>[] = [
  ['line', 'text'],
  ['product', 'text'],
  ['indicator', 'text'],
  ['output'],
  ['value', 'num2'],
  ['benchmarkUnit', 'text'],
  ['ndrcLevel', 'badge'],
  ['benchmark', 'num2'],
  ['baseline', 'num2'],
  ['gapToBenchmarkPct'],
  ['gbLevel', 'text'],
  ['ungradedReason', 'text'],
  ['conversionBasis', 'text'],
]

/** Baseline vs actual of a line with its savings CUSUM, over [start, stop) or from the first baseline in force. */
async function savingsPart(line: LineOfPlant | undefined, start: string, stop: string, epoch: number): Promise<void> {
  if (!line) return void $('savings-table').replaceChildren(el('p', { class: 'empty' }, t('pickLine')))
  try {
    const baselines = await api<Baselines>(`baselines?scope=${encodeURIComponent(line.path)}`)
    if (epoch !== state.epoch) return
    const first = baselines.rows[0]
    const last = baselines.rows[baselines.rows.length - 1]
    if (!first || !last) return void $('savings-table').replaceChildren(el('p', { class: 'empty', id: 'no-baseline' }, t('noBaseline')))
    const tz = line.site.timezone
    // Savings exist only from the first baseline in force on.
    const from = localDate(first.effectiveFrom, tz) >= start ? first.effectiveFrom : start
    const s = await api<Savings>(`savings?scope=${encodeURIComponent(line.path)}&start=${from}&stop=${stop}`)
    if (epoch !== state.epoch) return
    $('savings-kpis').replaceChildren(
      el(
        'div',
        { class: 'kpi' },
        el('div', { class: 'label' }, t('totalSavings')),
        el('div', { class: 'value', id: 'total-savings' }, `${fmt(s.totalSavings)} kWh`),
        el('div', { class: 'sub' }, s.savingsShare === null ? '' : pct(s.savingsShare)),
      ),
      el(
        'div',
        { class: 'kpi' },
        el('div', { class: 'label' }, t('baselineRev')),
        el('div', { class: 'value' }, `#${last.revision}`),
        el('div', { class: 'sub' }, `R² ${fmt(last.r2, 2)} · ${last.variables} · ${localDate(last.effectiveFrom, tz)}`),
      ),
      ...(s.modelValid
        ? []
        : [el('div', { class: 'kpi warn' }, el('div', { class: 'label' }, t('modelInvalid')), el('div', { class: 'sub' }, s.modelReasons.join('; ')))]),
    )
    const rows = s.rows.map((r) => ({ ...r, savings_kwh: r.savings }))
    $('savings-table').replaceChildren(
      rowsTable(rows, [['period', 'text'], ['production'], ['actual'], ['predicted'], ['savings_kwh'], ['cusum'], ['enpi', 'num3'], ['coverage', 'pct']], {
        id: 'savings-rows',
      }),
    )
    if (rows.length) {
      chart(
        $('savings-chart'),
        [
          { label: t('actualKwh'), values: rows.map((r) => r.actual) },
          { label: t('predictedKwh'), values: rows.map((r) => r.predicted) },
          { label: 'CUSUM', values: rows.map((r) => r.cusum), scale: 'cusum' },
        ],
        { x: rows.map((_, i) => i), labels: rows.map((r) => r.period) },
      ).catch(showError)
    }
  } catch (err) {
    $('savings-table').replaceChildren(failBox(err))
  }
}
