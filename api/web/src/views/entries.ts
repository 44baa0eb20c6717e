import type { EntryRow } from '../answers.ts'
import { api, showError } from '../api.ts'
import { el } from '../dom.ts'
import { localDate, nextDay } from '../format.ts'
import { t } from '../i18n.ts'
import { plantTz as tz, type RecordForm, recordsView } from '../records-view.ts'
import { state } from '../state.ts'
import type { Column } from '../table.ts'

// Entries (#/entries, 台账录入): figures no meter measures — the day's coal from the weighbridge with
// its measured calorific value, a fuel delivery, production from ERP. A form (new entry, or a
// revision of one picked in the list), the current entries of a period with revision and who/when,
// the history of one entry, and void. Writing needs `import` (engineer, admin); reading `reports`.

type ShownEntry = EntryRow & { where: string }

/** Carrier ids the API knows (analytics/carriers.ts); the API refuses any other with RECORDS_ERR_CARRIER. */
const CARRIERS = [
  'raw-coal',
  'coke',
  'natural-gas',
  'fuel-oil',
  'diesel',
  'gasoline',
  'lpg',
  'electricity',
  'heat',
  'steam-low-pressure',
  'oxygen',
  'compressed-air',
  'fresh-water',
  'blast-furnace-gas',
  'converter-gas',
  'coke-oven-gas',
] as const
const UNITS = ['t', 'kg', 'm3', '10^4m3', 'kWh', 'MWh', 'MJ', 'GJ', 'pcs'] as const

const COLUMNS: readonly Column<ShownEntry>[] = [
  ['kind', 'badge'],
  ['where', 'text'],
  ['carrier', 'text'],
  ['direction', 'badge'],
  ['amount', 'num3'],
  ['unit', 'text'],
  ['start', 'time'],
  ['end', 'time'],
  ['ncvKjPerUnit', 'int'],
  ['source', 'text'],
  ['revision', 'int'],
  ['enteredBy', 'text'],
  ['enteredAt', 'time'],
  ['reason', 'text'],
]
const LABELS = { start: t('entryStart'), end: t('entryEnd'), reason: t('entryReason'), kind: t('entryKind') }

const whereOf = (r: EntryRow): string => [r.enterprise, r.site, r.line].filter((x) => x !== null).join(' / ')

/** Options of the scope select: each enterprise, its sites and their lines (value enterprise[/site[/line]]). */
function scopeChoices(): HTMLOptionElement[] {
  const out: HTMLOptionElement[] = []
  for (const e of state.plant?.enterprises ?? []) {
    out.push(el('option', { value: e.id }, e.name))
    for (const s of e.sites) {
      out.push(el('option', { value: `${e.id}/${s.id}` }, `${e.name} / ${s.name}`))
      for (const l of s.lines) out.push(el('option', { value: `${e.id}/${s.id}/${l.id}` }, `${e.name} / ${s.name} / ${l.name}`))
    }
  }
  return out
}

/** The entry form; a revision fills it from an entry. */
function entryForm(onSaved: () => Promise<void>): RecordForm<EntryRow> {
  let revising: EntryRow | null = null
  const input = (name: string, attrs: Record<string, string | boolean> = {}) =>
    el('input', { name, 'aria-label': t(name), placeholder: t(name), class: `entry-${name}`, ...attrs })
  const select = (name: string, values: readonly string[]) =>
    el(
      'select',
      { name, 'aria-label': t(name), class: `entry-${name}` },
      values.map((v) => el('option', { value: v }, t(v))),
    )
  const scope = el('select', { name: 'scope', 'aria-label': t('scope'), class: 'entry-scope' }, scopeChoices())
  const kind = select('entryKind', ['energy', 'production'])
  const carrier = el(
    'select',
    { name: 'carrier', 'aria-label': t('carrier'), class: 'entry-carrier' },
    CARRIERS.map((c) => el('option', { value: c }, c)),
  )
  const direction = select('direction', ['import', 'export'])
  const amount = input('amount', { type: 'number', step: 'any', min: '0', required: true })
  const unit = el(
    'select',
    { name: 'unit', 'aria-label': t('unit'), class: 'entry-unit' },
    UNITS.map((u) => el('option', { value: u }, u)),
  )
  const start = input('entryStart', { type: 'date', required: true })
  const end = input('entryEnd', { type: 'date', required: true })
  const ncv = input('ncvKjPerUnit', { type: 'number', step: 'any', min: '0' })
  const source = input('source', { maxlength: '200' })
  const reason = input('entryReason', { maxlength: '500' })
  const title = el('span', { class: 'entry-form-title' }, t('newEntry'))
  const cancel = el('button', { type: 'button', class: 'entry-cancel', hidden: true, onclick: () => fill(null) }, t('cancel'))
  const today = localDate(Date.now(), tz())
  start.value = today
  end.value = nextDay(today)
  const energyOnly = (): void => {
    for (const f of [carrier, direction, ncv]) f.disabled = kind.value !== 'energy'
  }
  kind.addEventListener('change', energyOnly)

  function fill(r: EntryRow | null): void {
    revising = r
    title.textContent = r ? `${t('reviseEntry')} r${r.revision}` : t('newEntry')
    cancel.hidden = r === null
    reason.required = r !== null
    if (!r) {
      energyOnly()
      return
    }
    scope.value = [r.enterprise, r.site, r.line].filter((x) => x !== null).join('/')
    kind.value = r.kind
    carrier.value = r.carrier ?? carrier.value
    direction.value = r.direction ?? 'import'
    amount.value = String(r.amount)
    unit.value = r.unit
    start.value = localDate(r.start, tz())
    end.value = localDate(r.end, tz())
    ncv.value = r.ncvKjPerUnit === null ? '' : String(r.ncvKjPerUnit)
    source.value = r.source
    reason.value = ''
    energyOnly()
  }

  function entryOfForm(): Record<string, unknown> {
    const [enterprise, site, line] = scope.value.split('/')
    const e: Record<string, unknown> = { kind: kind.value, enterprise, amount: Number(amount.value), unit: unit.value, start: start.value, end: end.value }
    if (site) e.site = site
    if (line) e.line = line
    if (source.value) e.source = source.value
    if (kind.value === 'energy') {
      e.carrier = carrier.value
      e.direction = direction.value
      if (ncv.value !== '') e.ncvKjPerUnit = Number(ncv.value)
    }
    return e
  }

  async function submit(ev: Event): Promise<void> {
    ev.preventDefault()
    try {
      if (revising) {
        const body = { entry: entryOfForm(), reason: reason.value, expectedRevision: revising.revision }
        await api(`entries/${encodeURIComponent(revising.id)}`, { method: 'PUT', body })
      } else await api('entries', { method: 'POST', body: { entries: [entryOfForm()], ...(reason.value ? { reason: reason.value } : {}) } })
      fill(null)
      amount.value = ''
      reason.value = ''
      showError(null)
      await onSaved()
    } catch (err) {
      showError(err)
    }
  }

  energyOnly()
  const form = el(
    'form',
    { class: 'toolbar entry-form', onsubmit: (e) => void submit(e) },
    title,
    scope,
    kind,
    carrier,
    direction,
    amount,
    unit,
    start,
    end,
    ncv,
    source,
    reason,
    el('button', { type: 'submit', class: 'save-entry' }, t('saveEntry')),
    cancel,
  )
  return { form, fill }
}

export function entriesView(main: HTMLElement): Promise<void> {
  return recordsView<EntryRow>(main, {
    path: 'entries',
    prefix: 'entry',
    title: 'entries',
    days: 31,
    columns: COLUMNS,
    labels: LABELS,
    whereOf,
    form: entryForm,
  })
}
