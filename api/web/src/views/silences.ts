import type { SilenceRow, Silences } from '../answers.ts'
import { api, failBox, showError } from '../api.ts'
import { $, el } from '../dom.ts'
import { locale, t } from '../i18n.ts'
import { can, state } from '../state.ts'
import { rowsTable } from '../table.ts'

// Silences (maintenance windows) in the alerts view: the list of those in force or to come, with
// an "end" button, and a form for roles that may acknowledge: line or device, a start (empty = now,
// or a plant-local time ahead: a planned window), a length in hours or an end time, and a reason.
// Alerts raised under a silence are still listed, marked "silenced"; they are not notified while it
// lasts (those still firing at its end are then).

type ShownSilence = SilenceRow & { where: string }

const DURATIONS_H = [1, 2, 4, 8, 12, 24, 72, 168] as const
/** The length select's value for "until an end time". */
const UNTIL = 'until'

/** An instant as the plant's wall time (the zone the form's start and end are read in). */
const plantTime = (ms: number): string => new Date(ms).toLocaleString(locale(), { timeZone: state.plant?.timezone })

/** Options of the scope select: every line, then its devices (value: enterprise/site/line[/device]). */
function scopeChoices(): HTMLOptionElement[] {
  const out: HTMLOptionElement[] = []
  for (const e of state.plant?.enterprises ?? [])
    for (const s of e.sites)
      for (const l of s.lines) {
        out.push(el('option', { value: `${e.id}/${s.id}/${l.id}` }, `${e.name} / ${s.name} / ${l.name}`))
        for (const d of l.devices) out.push(el('option', { value: `${e.id}/${s.id}/${l.id}/${d.id}` }, `· ${l.name} / ${d.name}`))
      }
  return out
}

/** The panel: an element with the form and the list, and a `refresh` the view calls with its own. */
export function silencesPanel(onChange: () => Promise<void>): { panel: HTMLElement; refresh: () => Promise<void> } {
  const list = el('div', { id: 'silence-list' }, t('loading'))
  const panel = el('div', { id: 'silences' }, can('ack') ? silenceForm() : null, list)

  async function refresh(): Promise<void> {
    try {
      const answer = await api<Silences>('silences')
      const rows: ShownSilence[] = answer.rows
        .filter((r) => r.state === 'active' || r.state === 'scheduled')
        .map((r) => ({ ...r, where: [r.line, r.device].filter((x) => x !== null).join(' / ') || [r.enterprise, r.site].filter((x) => x !== null).join(' / ') }))
      $('silence-list').replaceChildren(
        rowsTable(
          rows,
          [
            ['state', 'badge'],
            ['where', 'text'],
            ['start', (r) => plantTime(r.start)],
            ['end', (r) => plantTime(r.end)],
            ['reason', 'text'],
            ['createdBy', 'text'],
          ],
          {
            id: 'silence-rows',
            label: { reason: t('silenceReason') },
            rowAttrs: (r) => ({ 'data-silence': r.id }),
            actions: (r) => (can('ack') ? endButton(r) : null),
          },
        ),
      )
    } catch (err) {
      $('silence-list').replaceChildren(failBox(err))
    }
  }

  function endButton(r: ShownSilence): HTMLElement {
    return el(
      'button',
      {
        class: 'end-silence',
        onclick: async () => {
          try {
            await api(`silences/${encodeURIComponent(r.id)}`, { method: 'DELETE' })
            await refresh()
            await onChange()
          } catch (err) {
            showError(err)
          }
        },
      },
      t('endSilence'),
    )
  }

  function silenceForm(): HTMLElement {
    const scope = el('select', { 'aria-label': t('silenceScope'), class: 'silence-scope' }, scopeChoices())
    // Start and end are plant-local wall times (datetime-local), as the API reads them.
    const start = el('input', { type: 'datetime-local', class: 'silence-start', 'aria-label': t('silenceStart'), title: t('silenceStartHint') })
    const end = el('input', { type: 'datetime-local', class: 'silence-end', 'aria-label': t('silenceEnd'), required: true, disabled: true })
    const hours = el(
      'select',
      {
        'aria-label': t('silenceDuration'),
        class: 'silence-hours',
        onchange: () => {
          end.disabled = hours.value !== UNTIL
        },
      },
      DURATIONS_H.map((h) => el('option', { value: String(h), selected: h === 4 }, `${h} ${t('hours')}`)),
      el('option', { value: UNTIL }, t('silenceUntil')),
    )
    const reason = el('input', { placeholder: t('silenceReason'), 'aria-label': t('silenceReason'), class: 'silence-reason', maxlength: '500', required: true })
    const submit = async (e: Event): Promise<void> => {
      e.preventDefault()
      const [enterprise, site, line, device] = scope.value.split('/')
      try {
        await api('silences', {
          method: 'POST',
          body: {
            enterprise,
            site,
            line,
            ...(device ? { device } : {}),
            ...(start.value ? { start: start.value } : {}),
            ...(hours.value === UNTIL ? { end: end.value } : { durationMinutes: Number(hours.value) * 60 }),
            reason: reason.value,
          },
        })
        reason.value = ''
        await refresh()
        await onChange()
        showError(null)
      } catch (err) {
        showError(err)
      }
    }
    return el(
      'form',
      { class: 'toolbar silence-form', onsubmit: (e) => void submit(e) },
      el('span', {}, t('newSilence')),
      scope,
      el('label', { class: 'silence-start-label' }, `${t('silenceStart')} `, start),
      hours,
      end,
      reason,
      el('button', { type: 'submit', class: 'create-silence' }, t('createSilence')),
    )
  }

  return { panel, refresh }
}
