import type { Enterprise, EnterpriseRow, Enterprises, Overview } from '../answers.ts'
import { api, downloadCsv, failBox, showError } from '../api.ts'
import { $, el, type Child } from '../dom.ts'
import { fmt, localDate, pct } from '../format.ts'
import { t, valueLabel } from '../i18n.ts'
import { can, state } from '../state.ts'
import { rowsTable } from '../table.ts'

// Province (#/province, #/province/<enterprise>), for the commission: progress of the programme,
// the enterprise table (sortable, CSV export) and one enterprise in detail.

const gradeBadges = (r: EnterpriseRow): Child =>
  el(
    'span',
    { class: 'grades' },
    r.benchmarkGrades ? el('span', { class: 'badge benchmark' }, `${valueLabel('benchmark')} ${r.benchmarkGrades}`) : null,
    ' ',
    r.compliantGrades ? el('span', { class: 'badge compliant' }, `${valueLabel('compliant')} ${r.compliantGrades}`) : null,
    ' ',
    r.belowBaselineGrades ? el('span', { class: 'badge below_baseline' }, `${valueLabel('below_baseline')} ${r.belowBaselineGrades}`) : null,
    r.gradedProducts === 0 ? '—' : null,
  )

export async function provinceView(main: HTMLElement, parts: readonly string[]): Promise<void> {
  if (!can('commission')) return void main.replaceChildren(el('p', { class: 'empty', id: 'forbidden' }, t('forbidden')))
  if (parts[1]) return enterpriseView(main, decodeURIComponent(parts[1]))
  main.replaceChildren(
    el('h2', {}, t('progress')),
    el('div', { id: 'progress' }, t('loading')),
    el(
      'div',
      { class: 'toolbar' },
      el('h2', {}, t('enterprises')),
      el('button', { id: 'export', onclick: () => downloadCsv('commission/enterprises', 'enterprises.csv').catch(showError) }, t('exportCsv')),
    ),
    el('div', { id: 'enterprises' }),
  )
  const epoch = state.epoch
  const [overview, list] = await Promise.allSettled([api<Overview>('commission/overview'), api<Enterprises>('commission/enterprises')])
  if (epoch !== state.epoch) return
  if (overview.status === 'fulfilled') {
    const o = overview.value
    const p = o.progress
    const bar = (label: string, n: number, id: string): HTMLElement => {
      const fill = el('div')
      // Set through the CSSOM, not a style attribute: allowed under a CSP without 'unsafe-inline'.
      fill.style.width = `${Math.min(100, (n / p.target) * 100)}%`
      return el(
        'div',
        { class: 'kpi' },
        el('div', { class: 'label' }, t(label)),
        el('div', { class: 'value', id }, `${n} / ${p.target}`),
        el('div', { class: 'progress' }, fill),
      )
    }
    const fig = (label: string, v: string, sub?: string): HTMLElement =>
      el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value' }, v), el('div', { class: 'sub' }, sub ?? ''))
    $('progress').replaceChildren(
      el(
        'div',
        { class: 'kpis' },
        bar('qualifiedTotal', p.qualified, 'qualified'),
        bar('smartFactories', p.smartFactories, 'smart'),
        bar('digitalWorkshops', p.digitalWorkshops, 'workshops'),
      ),
      el(
        'div',
        { class: 'kpis' },
        fig('provinceNc', pct(o.ncRate)),
        fig('provinceNet', pct(o.networkingRate)),
        fig('provinceAlerts', fmt(o.openAlerts, 0)),
        fig(
          'provinceEnergy',
          fmt(o.energyTce),
          `${t('periodLabel')}: ${localDate(o.period.start, o.period.timezone)} – ${localDate(o.period.end - 1, o.period.timezone)}`,
        ),
      ),
    )
  } else $('progress').replaceChildren(failBox(overview.reason))
  if (list.status === 'fulfilled') {
    $('enterprises').replaceChildren(
      rowsTable(
        list.value.rows,
        [
          ['rank', 'int'],
          ['name', (r) => el('a', { href: `#/province/${encodeURIComponent(r.enterprise)}`, class: 'drill', 'data-enterprise': r.enterprise }, r.name)],
          ['region', 'text'],
          ['ncRate', 'pct'],
          ['networkingRate', 'pct'],
          ['benchmarkGrades', gradeBadges],
          ['worstGapToBaselinePct'],
          ['energyTce'],
          ['openAlerts', 'int'],
          ['qualifiedAs', 'badge'],
          ['score'],
        ],
        {
          sortable: true,
          id: 'enterprise-rows',
          rowAttrs: (r) => ({ 'data-enterprise': r.enterprise }),
          label: { benchmarkGrades: t('grades'), openAlerts: t('openAlertsCol') },
        },
      ),
    )
  } else $('enterprises').replaceChildren(failBox(list.reason))
}

async function enterpriseView(main: HTMLElement, id: string): Promise<void> {
  main.replaceChildren(el('a', { href: '#/province', id: 'back' }, `← ${t('back')}`), el('div', { id: 'enterprise' }, t('loading')))
  const epoch = state.epoch
  try {
    const e = await api<Enterprise>(`commission/enterprises/${encodeURIComponent(id)}`)
    if (epoch !== state.epoch) return
    const fig = (label: string, v: string): HTMLElement =>
      el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value' }, v))
    const conditions = e.rules.flatMap((r) => r.conditions.map((c) => ({ rule: r.rule, condition: c.condition, passed: c.passed, reason: c.reason })))
    $('enterprise').replaceChildren(
      el('h2', { id: 'enterprise-name' }, e.name),
      el(
        'div',
        { class: 'kpis' },
        fig('rank', `#${e.rank} · ${fmt(e.score)}`),
        fig('qualifiedAs', valueLabel(e.qualifiedAs)),
        fig('ncRate', pct(e.ncRate)),
        fig('networkingRate', pct(e.networkingRate)),
        fig('energyTce', fmt(e.energyTce)),
        fig('openAlertsCol', fmt(e.openAlerts, 0)),
      ),
      el('h2', {}, t('lines')),
      rowsTable(
        // A grade on GB levels (no NDRC levels for the product) is named as such, never as 标杆/基准.
        e.lines.map((l) => ({
          ...l,
          grade: l.grade !== null && l.basis === 'gb' ? `gb_${l.grade}` : l.grade,
          gradeBasis: l.basis === null ? null : t(l.basis === 'gb' ? 'gbBasis' : 'ndrcBasis'),
        })),
        [
          ['lineName', 'text'],
          ['productName', 'text'],
          ['output'],
          ['sec', 'num2'],
          ['secUnit', 'text'],
          ['grade', 'badge'],
          ['gradeBasis', 'text'],
          ['benchmark', 'num2'],
          ['baseline', 'num2'],
          ['gapToBenchmarkPct'],
          ['gapToBaselinePct'],
          ['note', 'text'],
        ],
        { id: 'enterprise-lines', label: { sec: t('secValue'), note: t('ungradedReason') } },
      ),
      el('h2', {}, t('rules')),
      rowsTable(
        conditions,
        [
          ['rule', 'badge'],
          ['condition', 'text'],
          ['passed', 'bool'],
          ['reason', 'text'],
        ],
        { label: { rule: t('qualifiedAs') } },
      ),
      el('h2', {}, t('equipment')),
      rowsTable(
        e.equipment,
        [
          ['name', 'text'],
          ['line', (r) => r.line.split('/').pop()],
          ['kind', 'text'],
          ['ncCapable', 'bool'],
          ['networked', 'bool'],
          ['lastSeen', 'time'],
        ],
        { id: 'enterprise-equipment', label: { name: t('device'), line: t('line') } },
      ),
    )
  } catch (err) {
    $('enterprise').replaceChildren(failBox(err))
  }
}
