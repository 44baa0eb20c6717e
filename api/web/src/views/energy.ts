import type { Baselines, Carbon, Cost, Energy, Savings, Sec } from '../answers.ts'
import { api, failBox, showError } from '../api.ts'
import { chart } from '../chart.ts'
import { $, el } from '../dom.ts'
import { DAY_MS, fmt, localDate, nextDay, pct } from '../format.ts'
import { t } from '../i18n.ts'
import { allLines, scopeOptions, type LineOfPlant } from '../plant.ts'
import { can, state } from '../state.ts'
import { rowsTable } from '../table.ts'

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
    // The line without its enterprise; the unit of the value is the benchmark's, else kWh per unit of output.
    const rows = sec.value.rows.map((r) => ({ ...r, line: r.line.split('/').slice(1).join('/'), unitOfValue: r.benchmarkUnit ?? `kWh/${r.unit}` }))
    $('sec-table').replaceChildren(
      rowsTable(
        rows,
        [
          ['line', 'text'],
          ['product', 'text'],
          ['output'],
          ['unit', 'text'],
          ['value', 'num2'],
          ['benchmarkUnit', (r) => r.unitOfValue],
          ['grade', 'badge'],
          ['benchmark', 'num2'],
          ['baseline', 'num2'],
          ['gapToBenchmarkPct'],
          ['gapToBaselinePct'],
          ['gbLevel', 'text'],
        ],
        { id: 'sec-rows' },
      ),
    )
  } else $('sec-table').replaceChildren(failBox(sec.reason))
  await savingsPart(line, start, nextDay(stop), epoch)
}

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
