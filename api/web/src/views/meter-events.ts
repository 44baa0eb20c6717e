import type { MeterEventRow } from '../answers.ts'
import { api, showError } from '../api.ts'
import { el } from '../dom.ts'
import { t } from '../i18n.ts'
import { plantTz as tz, type RecordForm, recordsView } from '../records-view.ts'
import { state } from '../state.ts'
import type { Column } from '../table.ts'

// Meter events (#/meter-events, 换表记录): a meter replaced, a CT/PT ratio changed, a register reset.
// With a record the energy across the event is exact; without one a counter drop is an unexplained
// reset (the quality report lists it). A form (new event, or a revision of one picked in the list),
// the current events of a period, the history of one, and void. Writing needs `import`, reading `reports`.

type ShownEvent = MeterEventRow & { where: string }

/** The fields each type takes (records/meter-events.ts); the others are disabled in the form. */
const TYPE_FIELDS: Record<string, readonly string[]> = {
  replacement: ['oldFinalReading', 'newStartReading', 'newModulus'],
  ratio_change: ['oldRatio', 'newRatio', 'readingAtChange'],
  reset: ['valueAfter', 'valueBefore'],
}
const VALUE_FIELDS = ['oldFinalReading', 'newStartReading', 'newModulus', 'oldRatio', 'newRatio', 'readingAtChange', 'valueAfter', 'valueBefore'] as const

const COLUMNS: readonly Column<ShownEvent>[] = [
  ['type', 'badge'],
  ['where', 'text'],
  ['quantity', 'text'],
  ['unit', 'text'],
  ['ts', 'time'],
  ...VALUE_FIELDS.map((f): Column<ShownEvent> => [f, 'num3']),
  ['revision', 'int'],
  ['enteredBy', 'text'],
  ['enteredAt', 'time'],
  ['reason', 'text'],
]
const LABELS = { ts: t('eventTs'), quantity: t('counterQuantity'), reason: t('entryReason') }

const whereOf = (r: MeterEventRow): string => [r.enterprise, r.site, r.line, r.device].join(' / ')

/** Options of the device select: every device of the plant model (value enterprise/site/line/device). */
function deviceChoices(): HTMLOptionElement[] {
  const out: HTMLOptionElement[] = []
  for (const e of state.plant?.enterprises ?? [])
    for (const s of e.sites)
      for (const l of s.lines)
        for (const d of l.devices) out.push(el('option', { value: `${e.id}/${s.id}/${l.id}/${d.id}` }, `${e.name} / ${s.name} / ${l.name} / ${d.name}`))
  return out
}

/** Local wall-clock time of an instant for a datetime-local input (YYYY-MM-DDTHH:MM). */
function localDateTime(ts: number): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: tz(),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(ts)
  const get = (k: string): string => parts.find((p) => p.type === k)?.value ?? '00'
  return `${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}`
}

/** The event form; a revision fills it from an event. */
function eventForm(onSaved: () => Promise<void>): RecordForm<MeterEventRow> {
  let revising: MeterEventRow | null = null
  const input = (name: string, attrs: Record<string, string | boolean> = {}) =>
    el('input', { name, 'aria-label': t(name), placeholder: t(name), class: `meter-event-${name}`, ...attrs })
  const device = el('select', { name: 'device', 'aria-label': t('device'), class: 'meter-event-device' }, deviceChoices())
  const type = el(
    'select',
    { name: 'type', 'aria-label': t('type'), class: 'meter-event-type' },
    Object.keys(TYPE_FIELDS).map((v) => el('option', { value: v }, t(v))),
  )
  const quantity = input('counterQuantity', { value: 'energy_import_kwh', maxlength: '64' })
  const ts = input('eventTs', { type: 'datetime-local', required: true })
  const values = Object.fromEntries(VALUE_FIELDS.map((f) => [f, input(f, { type: 'number', step: 'any' })])) as Record<
    (typeof VALUE_FIELDS)[number],
    HTMLInputElement
  >
  const reason = input('meterEventReason', { maxlength: '500', required: true })
  const title = el('span', { class: 'meter-event-form-title' }, t('newMeterEvent'))
  const cancel = el('button', { type: 'button', class: 'meter-event-cancel', hidden: true, onclick: () => fill(null) }, t('cancel'))
  const byType = (): void => {
    for (const f of VALUE_FIELDS) values[f].disabled = !(TYPE_FIELDS[type.value] ?? []).includes(f)
  }
  type.addEventListener('change', byType)

  function fill(r: MeterEventRow | null): void {
    revising = r
    title.textContent = r ? `${t('reviseMeterEvent')} r${r.revision}` : t('newMeterEvent')
    cancel.hidden = r === null
    if (r) {
      device.value = `${r.enterprise}/${r.site}/${r.line}/${r.device}`
      type.value = r.type
      quantity.value = r.quantity
      ts.value = localDateTime(r.ts)
      for (const f of VALUE_FIELDS) values[f].value = r[f] === null ? '' : String(r[f])
    }
    reason.value = ''
    byType()
  }

  function eventOfForm(): Record<string, unknown> {
    const [enterprise, site, line, dev] = device.value.split('/')
    // The API parses a wall-clock time without an offset in the plant's time zone.
    const e: Record<string, unknown> = { type: type.value, enterprise, site, line, device: dev, quantity: quantity.value, ts: `${ts.value}:00` }
    for (const f of TYPE_FIELDS[type.value] ?? []) {
      const v = values[f as (typeof VALUE_FIELDS)[number]].value
      if (v !== '') e[f] = Number(v)
    }
    return e
  }

  async function submit(ev: Event): Promise<void> {
    ev.preventDefault()
    try {
      if (revising) {
        const body = { event: eventOfForm(), reason: reason.value, expectedRevision: revising.revision }
        await api(`meter-events/${encodeURIComponent(revising.id)}`, { method: 'PUT', body })
      } else await api('meter-events', { method: 'POST', body: { event: eventOfForm(), reason: reason.value } })
      fill(null)
      for (const f of VALUE_FIELDS) values[f].value = ''
      showError(null)
      await onSaved()
    } catch (err) {
      showError(err)
    }
  }

  ts.value = localDateTime(Date.now())
  byType()
  const form = el(
    'form',
    { class: 'toolbar meter-event-form', onsubmit: (e) => void submit(e) },
    title,
    device,
    type,
    quantity,
    ts,
    ...VALUE_FIELDS.map((f) => values[f]),
    reason,
    el('button', { type: 'submit', class: 'save-meter-event' }, t('saveEntry')),
    cancel,
  )
  return { form, fill }
}

export function meterEventsView(main: HTMLElement): Promise<void> {
  return recordsView<MeterEventRow>(main, {
    path: 'meter-events',
    prefix: 'meter-event',
    title: 'meterEvents',
    days: 366,
    columns: COLUMNS,
    labels: LABELS,
    whereOf,
    form: eventForm,
  })
}
