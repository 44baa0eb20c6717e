import type { Bill, BillRow } from '../answers.ts'
import { api, downloadCsv, failBox, showError } from '../api.ts'
import { $, el } from '../dom.ts'
import { fmt } from '../format.ts'
import { t } from '../i18n.ts'
import { state } from '../state.ts'
import { rowsTable, type Column } from '../table.ts'

// Bill check (#/bill?account=&month=, 电费核对): what the utility's bill of one supply account (户号)
// should say for a month — energy by TOU period, the basic charge on its basis, 力调, the total —
// next to the meter readings it came from (GET /bill), exportable as CSV to reconcile line by line.

const COLUMNS: readonly Column<BillRow>[] = [
  ['section', 'badge'],
  ['item', 'text'],
  ['quantity', 'num3'],
  ['unit', 'text'],
  ['price', 'num3'],
  ['amount', 'num2'],
  ['basis', 'text'],
]

/** The accounts to offer before any is chosen: each site's implicit account (a site's configured ones are typed in). */
function defaultAccount(): string {
  const e = state.plant?.enterprises[0]
  const s = e?.sites[0]
  return e && s ? `${e.id}/${s.id}/implicit` : ''
}

function lastMonth(): string {
  const d = new Date()
  d.setUTCDate(1)
  d.setUTCMonth(d.getUTCMonth() - 1)
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`
}

function summary(b: Bill): HTMLElement {
  const item = (label: string, value: string) => el('div', { class: 'kpi' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value))
  return el(
    'div',
    { class: 'kpis', id: 'bill-summary' },
    item(t('billStatus'), t(b.status === 'complete' ? 'billComplete' : 'billToDate')),
    item(t('tariff'), `${b.tariff.id} · ${b.tariff.version}`),
    item(t('energyKwh'), fmt(b.energyKwh, 1)),
    item(t('maxDemandSliding'), b.demand.sliding ? fmt(b.demand.sliding.demandKw, 1) : '—'),
    item(t('maxDemandFixed'), b.demand.fixed ? fmt(b.demand.fixed.demandKw, 1) : '—'),
    item(
      t('powerFactorMonth'),
      b.powerFactor ? `${fmt(b.powerFactor.powerFactorRounded, 2)} (${b.powerFactor.percent > 0 ? '+' : ''}${b.powerFactor.percent} %)` : '—',
    ),
    item(t('billTotal'), `${fmt(b.totalCost, 2)} ${b.currency}`),
  )
}

export async function billView(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const account = params.get('account') || defaultAccount()
  const month = params.get('month') || lastMonth()
  const accountInput = el('input', { id: 'account', type: 'text', value: account, size: 32 })
  const monthInput = el('input', { id: 'month', type: 'month', value: month })
  const go = (): void => {
    location.hash = `#/bill?${new URLSearchParams({ account: accountInput.value, month: monthInput.value })}`
  }
  const query = `bill?${new URLSearchParams({ account, month })}`
  main.replaceChildren(
    el(
      'div',
      { class: 'toolbar' },
      el('label', {}, `${t('account')} `, accountInput),
      el('label', {}, `${t('billMonth')} `, monthInput),
      el('button', { class: 'primary', id: 'apply', onclick: go }, t('apply')),
      el('button', { id: 'export', onclick: () => downloadCsv(`${query}&format=csv`, `bill-${month}.csv`).catch(showError) }, t('exportCsv')),
    ),
    el('h2', {}, t('billTitle')),
    el('div', { id: 'bill-body' }, el('p', { class: 'empty' }, t('loading'))),
  )
  const epoch = state.epoch
  try {
    const b = await api<Bill>(query)
    if (epoch !== state.epoch) return
    $('bill-body').replaceChildren(
      summary(b),
      ...(b.warnings.length > 0
        ? [
            el(
              'ul',
              { class: 'warnings', id: 'bill-warnings' },
              b.warnings.map((w) => el('li', {}, w)),
            ),
          ]
        : []),
      rowsTable(b.rows, COLUMNS, { label: { amount: t('billAmount') } }),
    )
  } catch (err) {
    if (epoch === state.epoch) $('bill-body').replaceChildren(failBox(err))
  }
}
