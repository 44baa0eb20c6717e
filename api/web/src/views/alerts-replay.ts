import type { Replay, ReplayAlertRow } from '../answers.ts'
import { ApiError, api } from '../api.ts'
import { $, el } from '../dom.ts'
import { DAY_MS, fmt, localDate } from '../format.ts'
import { t } from '../i18n.ts'
import { allLines } from '../plant.ts'
import { state } from '../state.ts'
import { rowsTable, type Column } from '../table.ts'

// Alert backtest (#/alerts/replay?from=&to=&learnUntil=&scope=, 告警回测): POST /alerts/replay — the
// rules the alert service runs (or the recommended set when none is configured) over stored history.
// Pick the range, optionally when the baselines stop learning and a line or one device; the page
// shows which rules ran, the per-rule counts, alerts per device-week and every alert that would have
// fired, its times in the plant's zone (the answer's `timezone`), value and limit as it opened, with
// units. Nothing is written (the page never sends `write`). A refused run shows the API's code.

/** An alert of the answer as a row: times as plant-local text, numbers with their units. */
interface ShownReplayAlert {
  openedLocal: string
  closedLocal: string
  rule: string
  ruleKind: string
  severity: string
  where: string
  valueText: string
  expectedText: string
  bandText: string
}

/** `YYYY-MM-DD HH:MM` of an instant in `timezone` (the plant's, not the browser's). */
export function plantLocal(ms: number, timezone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms))
  const p = (type: string): string => parts.find((x) => x.type === type)?.value ?? ''
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}`
}

const withUnit = (v: number | null, unit: string): string => (v === null ? '—' : unit ? `${fmt(v, 1)} ${unit}` : fmt(v, 2))

function shown(a: ReplayAlertRow, tz: string): ShownReplayAlert {
  return {
    openedLocal: plantLocal(a.openedAt, tz),
    closedLocal: a.resolvedAt === null ? t('replayOpen') : plantLocal(a.resolvedAt, tz),
    rule: a.rule,
    ruleKind: a.ruleKind,
    severity: a.severity,
    where: `${a.line} / ${a.device}`,
    valueText: withUnit(a.value, a.valueUnit),
    expectedText: withUnit(a.threshold, a.thresholdUnit),
    bandText: a.expectedLow === null || a.expectedHigh === null ? '—' : `${fmt(a.expectedLow, 1)} – ${fmt(a.expectedHigh, 1)} ${a.thresholdUnit}`.trim(),
  }
}

/** Scope choices: every device the user may see, by line (value `enterprise/site/line[/device]`). */
function scopeSelect(selected: string): HTMLSelectElement {
  const options = [el('option', { value: '' }, t('replayAll'))]
  for (const l of allLines()) {
    options.push(el('option', { value: l.path, selected: selected === l.path }, `${l.site.name} · ${l.name}`))
    for (const d of l.devices) options.push(el('option', { value: `${l.path}/${d.id}`, selected: selected === `${l.path}/${d.id}` }, `· · ${d.name}`))
  }
  return el('select', { id: 'replay-scope' }, options)
}

function summary(r: Replay): HTMLElement {
  const item = (id: string, label: string, value: string) =>
    el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value', id }, value))
  return el(
    'div',
    { class: 'kpis', id: 'replay-summary' },
    item('replay-rules-basis', 'replayRules', t(r.rulesBasis)),
    item('replay-devices', 'replayDevices', fmt(r.devices, 0)),
    item('replay-device-weeks', 'replayDeviceWeeks', fmt(r.deviceWeeks, 1)),
    item('replay-alert-count', 'replayAlerts', fmt(r.alerts.length, 0)),
    item('replay-per-device-week', 'replayPerDeviceWeek', fmt(r.alertsPerDeviceWeek, 2)),
    item('replay-samples', 'replaySamples', fmt(r.samples, 0)),
  )
}

function results(r: Replay): HTMLElement[] {
  const tz = r.timezone
  const rules = Object.entries(r.byRule).map(([rule, s]) => ({ rule, kind: s.kind, alerts: s.alerts, devices: s.devices }))
  const alertCols: readonly Column<ShownReplayAlert>[] = [
    ['openedLocal', 'text'],
    ['closedLocal', 'text'],
    ['rule', 'text'],
    ['severity', 'badge'],
    ['where', 'text'],
    ['valueText', 'text'],
    ['expectedText', 'text'],
    ['bandText', 'text'],
  ]
  return [
    el(
      'p',
      { id: 'replay-range' },
      `${plantLocal(r.from, tz)} … ${plantLocal(r.to, tz)} (${tz}) · ${t('replayLearnedBefore')} ${plantLocal(r.learnUntil, tz)} · ${t('replayBaselines')} ${r.baselines}${r.relearned > 0 ? ` · ${t('replayRelearned')} ${r.relearned}` : ''}`,
    ),
    summary(r),
    el('h2', {}, t('replayByRule')),
    rowsTable(
      rules,
      [
        ['rule', 'text'],
        ['kind', 'text'],
        ['alerts', 'int'],
        ['devices', 'int'],
      ],
      {
        id: 'replay-rules',
        label: { rule: t('replayRule'), kind: t('replayKind'), alerts: t('replayAlerts'), devices: t('replayDevices') },
        rowAttrs: (row) => ({ 'data-rule': row.rule }),
      },
    ),
    ...(r.problems.length > 0
      ? [
          el('h2', {}, t('replayProblems')),
          el(
            'ul',
            { class: 'warnings', id: 'replay-problems' },
            r.problems.map((p) => el('li', {}, `${p.code}: ${p.message}`)),
          ),
        ]
      : []),
    el('h2', {}, t('replayAlertList')),
    rowsTable(
      r.alerts.map((a) => shown(a, tz)),
      alertCols,
      {
        id: 'replay-alerts',
        sortable: true,
        label: {
          openedLocal: `${t('replayOpened')} (${tz})`,
          closedLocal: `${t('replayClosed')} (${tz})`,
          rule: t('replayRule'),
          where: t('device'),
          valueText: t('replayValue'),
          expectedText: t('replayExpected'),
          bandText: t('replayBand'),
        },
        rowAttrs: (row) => ({ 'data-rule': row.rule }),
      },
    ),
  ]
}

/** The request body of the form's values (dates local to the plant, as the API reads a bare date). */
function body(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = { from: params.get('from') ?? '', to: params.get('to') ?? '' }
  const learnUntil = params.get('learnUntil')
  if (learnUntil) out.learnUntil = learnUntil
  const [enterprise, site, line, device] = (params.get('scope') ?? '').split('/')
  if (enterprise) out.enterprise = enterprise
  if (site) out.site = site
  if (line) out.line = line
  if (device) out.device = device
  return out
}

export async function alertsReplayView(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const tz = state.plant?.timezone ?? 'UTC'
  const today = localDate(Date.now(), tz)
  const weekAgo = localDate(Date.parse(`${today}T00:00:00Z`) - 7 * DAY_MS, 'UTC')
  const fromInput = el('input', { id: 'replay-from', type: 'date', value: params.get('from') || weekAgo })
  const toInput = el('input', { id: 'replay-to', type: 'date', value: params.get('to') || today })
  const learnInput = el('input', { id: 'replay-learn-until', type: 'date', value: params.get('learnUntil') || '' })
  const scope = scopeSelect(params.get('scope') ?? '')
  const run = (): void => {
    const q = new URLSearchParams({ from: fromInput.value, to: toInput.value, run: '1' })
    if (learnInput.value) q.set('learnUntil', learnInput.value)
    if (scope.value) q.set('scope', scope.value)
    location.hash = `#/alerts/replay?${q}`
  }
  main.replaceChildren(
    el('h2', {}, t('replayTitle')),
    el('p', {}, t('replayIntro')),
    el(
      'div',
      { class: 'toolbar' },
      el('label', {}, `${t('replayFrom')} `, fromInput),
      el('label', {}, `${t('replayTo')} `, toInput),
      el('label', {}, `${t('replayLearnUntil')} `, learnInput),
      el('label', {}, `${t('replayScope')} `, scope),
      el('button', { class: 'primary', id: 'replay-run', onclick: run }, t('replayRun')),
    ),
    el('div', { id: 'replay-body' }),
  )
  if (params.get('run') !== '1') return
  const epoch = state.epoch
  $('replay-body').replaceChildren(el('p', { class: 'empty' }, t('replayRunning')))
  try {
    const r = await api<Replay>('alerts/replay', { method: 'POST', body: body(params) })
    if (epoch !== state.epoch) return
    $('replay-body').replaceChildren(...results(r))
  } catch (err) {
    if (epoch !== state.epoch) return
    // The API's code and message (e.g. API_ERR_NOT_FOUND: no telemetry between …), not a generic text.
    const text = err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err)
    $('replay-body').replaceChildren(el('p', { class: 'empty error', id: 'replay-error' }, text))
  }
}
