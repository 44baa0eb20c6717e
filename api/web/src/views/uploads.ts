import type { UploadRow, Uploads } from '../answers.ts'
import { api, failBox } from '../api.ts'
import { el } from '../dom.ts'
import { t } from '../i18n.ts'
import { state } from '../state.ts'
import { rowsTable, type Column } from '../table.ts'

// Uploads (#/uploads, 省平台上报): what this plant's uploaders sent to the provincial platform
// (GET /uploads) — per enterprise the counts, the records the province refused with its reason,
// those still pending with the last failure, and the newest acknowledged with their receipt.

const COLUMNS: readonly Column<UploadRow>[] = [
  ['indicator', 'text'],
  ['subject', 'text'],
  ['carrier', 'text'],
  ['period', 'text'],
  ['start', 'text'],
  ['revision', 'int'],
  ['value', 'num3'],
  ['unit', 'text'],
  ['attempts', 'int'],
  ['reason', 'text'],
  ['receipt', 'text'],
]

function section(title: string, id: string, rows: readonly UploadRow[]): HTMLElement {
  return el('div', {}, el('h3', {}, title), rowsTable(rows, COLUMNS, { id, label: { reason: t('uploadReason') } }))
}

export async function uploadsView(main: HTMLElement): Promise<void> {
  main.replaceChildren(el('h2', {}, t('uploadsTitle')), el('div', { id: 'uploads-body' }, el('p', { class: 'empty' }, t('loading'))))
  const epoch = state.epoch
  try {
    const answer = await api<Uploads>('uploads?limit=50')
    if (epoch !== state.epoch) return
    const body = answer.enterprises.map((u) =>
      el(
        'section',
        { class: 'uploads', 'data-enterprise': u.enterprise },
        el('h3', {}, `${state.plant?.enterprises.find((e) => e.id === u.enterprise)?.name ?? u.enterprise}`),
        el(
          'div',
          { class: 'kpis' },
          ...(['acked', 'pending', 'rejected'] as const).map((k) =>
            el(
              'div',
              { class: 'kpi' },
              el('div', { class: 'label' }, t(`upload_${k}`)),
              el('div', { class: 'value', id: `uploads-${u.enterprise}-${k}` }, String(u.counts[k])),
            ),
          ),
        ),
        section(t('upload_rejected'), `uploads-${u.enterprise}-rejected-rows`, u.rejected),
        section(t('upload_pending'), `uploads-${u.enterprise}-pending-rows`, u.pending),
        section(t('upload_acked'), `uploads-${u.enterprise}-acked-rows`, u.uploaded),
      ),
    )
    document.getElementById('uploads-body')?.replaceChildren(...(body.length > 0 ? body : [el('p', { class: 'empty' }, t('noUploader'))]))
  } catch (err) {
    if (epoch === state.epoch) document.getElementById('uploads-body')?.replaceChildren(failBox(err))
  }
}
