import { api, failBox, showError } from './api.ts'
import { $, el } from './dom.ts'
import { DAY_MS, localDate, nextDay } from './format.ts'
import { t } from './i18n.ts'
import { can, state } from './state.ts'
import { rowsTable, type Column } from './table.ts'

// The page of an audited record kind (records/: entries 台账录入, meter events 换表记录): an optional
// form (new record, or a revision of one picked in the list), the current records of a period, the
// history of one, and void with a reason. Each kind brings its API path, its columns and its form;
// the list, history and void work the same for every kind, since the API's record routes do.

/** What every audited record row carries (records/store.ts). */
export interface AuditedRow {
  id: string
  revision: number
  voided?: boolean
}

/** A kind's form: the element, and how to fill it from a row to revise (null: a new record). */
export interface RecordForm<R> {
  form: HTMLFormElement
  fill(r: R | null): void
}

export interface RecordsViewSpec<R extends AuditedRow> {
  /** API path under /api/v1 (`entries`, `meter-events`). */
  path: string
  /** Prefix of ids, classes and the row's data attribute (`entry` → #entry-list, .entry-void, data-entry). */
  prefix: string
  /** i18n key of the page heading. */
  title: string
  /** How far back the period starts by default, days. */
  days: number
  columns: readonly Column<R & { where: string }>[]
  labels: Partial<Record<(keyof R & string) | 'where', string>>
  whereOf(r: R): string
  /** The form, given what to do after a save (refresh the list). */
  form(onSaved: () => Promise<void>): RecordForm<R>
}

/** The plant's time zone for date fields (Asia/Shanghai until the plant model is loaded). */
export const plantTz = (): string => state.plant?.timezone ?? 'Asia/Shanghai'

/** Renders the page of one audited record kind into `main`; writing needs the `import` permission. */
export async function recordsView<R extends AuditedRow>(main: HTMLElement, spec: RecordsViewSpec<R>): Promise<void> {
  const { path, prefix } = spec
  const now = Date.now()
  const from = el('input', { type: 'date', 'aria-label': t('from'), value: localDate(now - spec.days * DAY_MS, plantTz()) })
  const to = el('input', { type: 'date', 'aria-label': t('to'), value: localDate(now, plantTz()) })
  const editor = can('import') ? spec.form(() => refresh()) : null
  main.replaceChildren(
    el('h2', {}, t(spec.title)),
    ...(editor ? [editor.form] : []),
    el('div', { class: 'toolbar' }, el('span', {}, t('from')), from, el('span', {}, t('to')), to, el('button', { onclick: () => void refresh() }, t('apply'))),
    el('div', { id: `${prefix}-list` }, t('loading')),
    el('div', { id: `${prefix}-history` }),
  )

  async function refresh(): Promise<void> {
    try {
      const q = new URLSearchParams({ from: from.value, to: nextDay(to.value) })
      const answer = await api<{ rows: R[] }>(`${path}?${q.toString()}`)
      const rows = answer.rows.map((r) => ({ ...r, where: spec.whereOf(r) }))
      $(`${prefix}-list`).replaceChildren(
        rowsTable(rows, spec.columns, {
          id: `${prefix}-rows`,
          sortable: true,
          label: spec.labels,
          rowAttrs: (r) => ({ [`data-${prefix}`]: r.id }),
          actions: rowActions,
        }),
      )
    } catch (err) {
      $(`${prefix}-list`).replaceChildren(failBox(err))
    }
  }

  function rowActions(r: R): HTMLElement {
    return el(
      'span',
      { class: `${prefix}-actions` },
      el('button', { class: `${prefix}-history`, onclick: () => void showHistory(r.id) }, t('history')),
      editor ? el('button', { class: `${prefix}-revise`, onclick: () => editor.fill(r) }, t('revise')) : null,
      editor ? el('button', { class: `${prefix}-void`, onclick: () => void voidRecord(r) }, t('void')) : null,
    )
  }

  async function voidRecord(r: R): Promise<void> {
    const reason = window.prompt(t('voidReason'))
    if (!reason) return
    try {
      await api(`${path}/${encodeURIComponent(r.id)}`, { method: 'DELETE', body: { reason, expectedRevision: r.revision } })
      await refresh()
      await showHistory(r.id)
    } catch (err) {
      showError(err)
    }
  }

  async function showHistory(id: string): Promise<void> {
    try {
      const h = await api<{ rows: R[] }>(`${path}/${encodeURIComponent(id)}/history`)
      const rows = h.rows.map((r) => ({ ...r, where: spec.whereOf(r), state: r.voided ? 'voided' : 'valid' }))
      const historyLabels: Partial<Record<string, string>> = spec.labels
      const columns: Column<(typeof rows)[number]>[] = [['revision', 'int'], ['state', 'badge'], ...spec.columns.filter(([c]) => c !== 'revision')]
      $(`${prefix}-history`).replaceChildren(
        el('h2', {}, `${t('entryHistory')} ${id}`),
        rowsTable(rows, columns, { id: `${prefix}-history-rows`, label: historyLabels }),
      )
    } catch (err) {
      $(`${prefix}-history`).replaceChildren(failBox(err))
    }
  }

  await refresh()
}
