import type { AlertDetail, AlertRow, Alerts } from '../answers.ts'
import { api, failBox, showError } from '../api.ts'
import { $, el, type Child } from '../dom.ts'
import { t } from '../i18n.ts'
import { can, every, state } from '../state.ts'
import { rowsTable, type Column } from '../table.ts'
import { silencesPanel } from './silences.ts'

// Alerts (#/alerts): open alerts (firing + acknowledged) with the ack form for roles that may
// acknowledge, the events of one alert, silences (maintenance windows: views/silences.ts), and the
// history (resolved), refreshed every 10 s. An alert raised under a silence is marked "silenced".

/** An alert as a table row: where it is and its message in the page's language. */
type ShownAlert = AlertRow & { where: string }

const ALERT_COLUMNS: readonly Column<ShownAlert>[] = [
  ['severity', 'badge'],
  ['state', 'badge'],
  ['openedAt', 'time'],
  ['where', 'text'],
  ['message', 'text'],
  ['silenceId', (r) => (r.silenceId ? el('span', { class: 'badge silenced', title: r.silenceId }, t('silenced')) : '—')],
  ['value'],
  ['threshold'],
  ['acknowledgedBy', 'text'],
  ['comment', 'text'],
  ['resolvedAt', 'time'],
]

const messageOf = (r: { message: string; messageZh: string }): string => (state.lang === 'zh' ? r.messageZh : r.message)

export async function alertsView(main: HTMLElement): Promise<void> {
  const silences = silencesPanel(() => refresh())
  main.replaceChildren(
    el('p', {}, el('a', { href: '#/alerts/replay', id: 'replay-link' }, t('replayLink'))),
    el('h2', {}, t('openAlerts')),
    el('div', { id: 'open-alerts' }, t('loading')),
    el('div', { id: 'alert-detail' }),
    el('h2', {}, t('silences')),
    silences.panel,
    el('h2', {}, t('alertHistory')),
    el('div', { id: 'alert-history' }),
  )
  const epoch = state.epoch
  const shown = (r: AlertRow): ShownAlert => ({ ...r, where: `${r.line} / ${r.device}`, message: messageOf(r) })
  const link = (r: ShownAlert): Child =>
    el(
      'a',
      {
        href: '#',
        class: 'alert-link',
        onclick: (e) => {
          e.preventDefault()
          detail(r.id).catch(showError)
        },
      },
      r.message,
    )
  const cols = ALERT_COLUMNS.map(([c, k]): Column<ShownAlert> => (c === 'message' ? [c, link] : [c, k]))

  async function refresh(): Promise<void> {
    try {
      const all = await api<Alerts>('alerts?limit=500')
      if (epoch !== state.epoch) return
      const open = all.rows.filter((r) => r.state !== 'resolved').map(shown)
      $('open-alerts').replaceChildren(
        rowsTable(
          open,
          cols.filter(([c]) => c !== 'resolvedAt'),
          {
            id: 'open-alert-rows',
            label: { value: t('alertValue'), silenceId: t('silenced') },
            rowAttrs: (r) => ({ 'data-alert': r.id }),
            actions: (r) => (can('ack') && r.state === 'firing' ? ackForm(r) : null),
          },
        ),
      )
      $('alert-history').replaceChildren(
        rowsTable(all.rows.filter((r) => r.state === 'resolved').map(shown), cols, {
          id: 'alert-history-rows',
          label: { value: t('alertValue') },
          rowAttrs: (r) => ({ 'data-alert': r.id }),
        }),
      )
      showError(null)
    } catch (err) {
      $('open-alerts').replaceChildren(failBox(err))
    }
  }

  async function detail(id: string): Promise<void> {
    const a = await api<AlertDetail>(`alerts/${encodeURIComponent(id)}`)
    const rows = a.rows.map((h) => ({ ...h, message: messageOf(h) }))
    $('alert-detail').replaceChildren(
      el(
        'div',
        { class: 'panel' },
        el(
          'div',
          { class: 'toolbar' },
          el('h2', {}, `${t('alertEvents')}: ${a.alert.rule} · ${a.alert.device}`),
          el('button', { onclick: () => $('alert-detail').replaceChildren() }, t('close')),
        ),
        rowsTable(rows, [['ts', 'time'], ['event', 'badge'], ['user', 'text'], ['comment', 'text'], ['value'], ['message', 'text']], {
          id: 'alert-events',
          label: { value: t('alertValue') },
        }),
      ),
    )
  }

  function ackForm(r: ShownAlert): HTMLElement {
    const input = el('input', { placeholder: t('comment'), 'aria-label': t('comment'), class: 'ack-comment', maxlength: '1000' })
    return el(
      'span',
      { class: 'ack-form' },
      input,
      ' ',
      el(
        'button',
        {
          class: 'ack',
          onclick: async () => {
            try {
              await api(`alerts/${encodeURIComponent(r.id)}/ack`, { method: 'POST', body: { comment: input.value } })
              await refresh()
            } catch (err) {
              showError(err)
            }
          },
        },
        t('ack'),
      ),
    )
  }

  await Promise.all([refresh(), silences.refresh()])
  // Not while someone types a comment: the form would be replaced under their fingers.
  every(10_000, () => {
    if (document.activeElement?.classList.contains('ack-comment')) return
    void refresh()
    void silences.refresh()
  })
}
