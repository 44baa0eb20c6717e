import { el, type Attrs, type Child } from './dom.ts'
import { dateTime, fmt, pct } from './format.ts'
import { t, valueLabel } from './i18n.ts'

/** How a cell shows its value: a number with 1 (num), 2 or 3 decimals, an integer, a share, an instant, a translated badge, text, a tick — or drawn by a function of the row. */
export type CellKind<R> = 'num' | 'num2' | 'num3' | 'int' | 'pct' | 'time' | 'badge' | 'text' | 'bool' | ((row: R) => Child)

/** A column: the row's key (its header is the translated key) and how to show it (default num). */
export type Column<R> = readonly [key: keyof R & string, kind?: CellKind<R>]

export interface TableOptions<R> {
  id?: string
  /** Sort on a header click (client side). */
  sortable?: boolean
  /** Headers other than the translated key. */
  label?: Partial<Record<keyof R & string, string>>
  rowAttrs?: (row: R) => Attrs
  /** A last cell per row (e.g. a form). */
  actions?: (row: R) => Child
}

const isText = <R>(kind: CellKind<R> | undefined): boolean => kind === 'text' || kind === 'badge' || typeof kind === 'function'

function cell<R>(row: R, c: keyof R & string, kind: CellKind<R> | undefined): HTMLTableCellElement {
  if (typeof kind === 'function') return el('td', { class: 'text' }, kind(row))
  const v: unknown = row[c]
  if (v === null || v === undefined || v === '') return el('td', { class: kind === 'text' || kind === 'badge' ? 'text' : 'num' }, '—')
  switch (kind) {
    case 'badge':
      return el('td', { class: 'text' }, el('span', { class: `badge ${String(v)}` }, valueLabel(String(v))))
    case 'time':
      return el('td', { class: 'num' }, dateTime(v))
    case 'pct':
      return el('td', { class: 'num' }, pct(v))
    case 'int':
      return el('td', { class: 'num' }, fmt(v as number, 0))
    case 'bool':
      return el('td', {}, v ? '✓' : '—')
    case 'text':
      return el('td', { class: 'text' }, String(v))
    default:
      return el('td', { class: 'num' }, typeof v === 'number' ? fmt(v, kind === 'num3' ? 3 : kind === 'num2' ? 2 : 1) : String(v))
  }
}

const isNone = (x: unknown): boolean => x === null || x === undefined

/** A table of rows, or "no data" when there are none; wide tables scroll in their own box. */
export function rowsTable<R extends object>(rows: readonly R[], columns: readonly Column<R>[], opts: TableOptions<R> = {}): HTMLElement {
  if (rows.length === 0) return el('p', { class: 'empty' }, t('none'))
  let sorted = rows
  let dir = 1
  let by = ''
  const body = el('tbody')
  const head = el(
    'tr',
    {},
    columns.map(([c, kind]) =>
      el(
        'th',
        {
          class: `${opts.sortable ? 'sortable' : ''} ${isText(kind) ? 'text' : ''}`,
          'data-col': c,
          onclick: opts.sortable ? () => sortBy(c) : undefined,
        },
        opts.label?.[c] ?? t(c),
      ),
    ),
  )
  if (opts.actions) head.append(el('th'))
  const actions = opts.actions
  function fill(): void {
    body.replaceChildren(
      ...sorted.map((r) =>
        el(
          'tr',
          opts.rowAttrs ? opts.rowAttrs(r) : {},
          columns.map(([c, kind]) => cell(r, c, kind)),
          actions ? el('td', {}, actions(r)) : null,
        ),
      ),
    )
  }
  function sortBy(c: keyof R & string): void {
    dir = by === c ? -dir : 1
    by = c
    sorted = [...rows].sort((ra, rb) => {
      const a = ra[c] as string | number | null
      const b = rb[c] as string | number | null
      return a === b ? 0 : isNone(a) ? 1 : isNone(b) ? -1 : (a as string | number) < (b as string | number) ? -dir : dir
    })
    for (const th of head.children) th.setAttribute('aria-sort', th.getAttribute('data-col') === c ? (dir === 1 ? 'ascending' : 'descending') : 'none')
    fill()
  }
  fill()
  return el('div', { class: 'scroll' }, el('table', opts.id ? { id: opts.id } : {}, el('thead', {}, head), body))
}
