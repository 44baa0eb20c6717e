import type { SilenceRow, Silences } from '../answers.ts'
import { api, failBox, showError } from '../api.ts'
import { $, el } from '../dom.ts'
import { t } from '../i18n.ts'
import { can, state } from '../state.ts'
import { rowsTable } from '../table.ts'

// Silences (maintenance windows) in the alerts view: the list of those in force or to come, with
// an "end" button, and a form (line or device, duration, reason) for roles that may acknowledge.
// Alerts raised under a silence are still listed, marked "silenced"; they are not notified.

type ShownSilence = SilenceRow & { where: string }

const DURATIONS_H = [1, 2, 4, 8, 12, 24, 72] as const

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
            ['start', 'time'],
            ['end', 'time'],
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
    const hours = el(
      'select',
      { 'aria-label': t('silenceDuration'), class: 'silence-hours' },
      DURATIONS_H.map((h) => el('option', { value: String(h), selected: h === 4 }, `${h} ${t('hours')}`)),
    )
    const reason = el('input', { placeholder: t('silenceReason'), 'aria-label': t('silenceReason'), class: 'silence-reason', maxlength: '500', required: true })
    const submit = async (e: Event): Promise<void> => {
      e.preventDefault()
      const [enterprise, site, line, device] = scope.value.split('/')
      try {
        await api('silences', {
          method: 'POST',
          body: { enterprise, site, line, ...(device ? { device } : {}), durationMinutes: Number(hours.value) * 60, reason: reason.value },
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
      hours,
      reason,
      el('button', { type: 'submit', class: 'create-silence' }, t('createSilence')),
    )
  }

  return { panel, refresh }
}
