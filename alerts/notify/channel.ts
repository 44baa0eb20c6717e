import { PlantWattError } from '../../core/errors.ts'
import type { AlertNotification } from '../events.ts'

/**
 * The contract every notification channel (WeCom, DingTalk, Feishu/Lark, e-mail) implements: one
 * file per channel under alerts/notify/, created from its validated config without I/O; `send`
 * delivers one message or throws a coded error. Queueing, timeouts and retries are the
 * ChannelQueue's (queue.ts), so a channel is only its wire format.
 *
 * Error codes a channel throws:
 * - ALERTS_ERR_NOTIFY_TIMEOUT  no answer within the timeout (retried)
 * - ALERTS_ERR_NOTIFY_HTTP     a non-2xx answer or a network failure (retried); `details.status`
 * - ALERTS_ERR_NOTIFY_REJECTED the robot answered errcode/code ≠ 0 (not retried unless the code says
 *                              "too many requests"); `details.robotCode`, `details.robotMessage`
 * - ALERTS_ERR_NOTIFY_SMTP     the SMTP server refused or failed (retried on 4xx and network errors)
 */
export interface NotifyChannel {
  /** The channel's id in the config (`alerts.channels[].id`). */
  readonly id: string
  readonly kind: ChannelKind
  /** Delivers one message; resolves when the receiver accepted it. `signal` aborts (timeout, close). */
  send(message: NotifyMessage, signal: AbortSignal): Promise<void>
  /** Releases what the channel holds (an SMTP transport). */
  close?(): void
}

export const CHANNEL_KINDS = ['wecom', 'dingtalk', 'feishu', 'email'] as const
export type ChannelKind = (typeof CHANNEL_KINDS)[number]

export const CHANNEL_LANGUAGES = ['zh', 'en'] as const
export type ChannelLanguage = (typeof CHANNEL_LANGUAGES)[number]

/** An escalation: the alert was not acknowledged within `afterMs` (alerts/escalation.ts). */
export interface EscalationNote {
  /** Escalation rule id. */
  rule: string
  afterMs: number
}

/** What a channel sends: the alert notification, and the escalation when it is one. */
export interface NotifyMessage {
  notification: AlertNotification
  escalation?: EscalationNote
}

/** A retryable failure unless `retry` says otherwise. */
export class NotifyError extends PlantWattError {
  readonly retry: boolean
  constructor(code: NotifyErrorCode, message: string, opts: { retry: boolean; cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, { cause: opts.cause, details: opts.details })
    this.retry = opts.retry
  }
}

export type NotifyErrorCode = 'ALERTS_ERR_NOTIFY_TIMEOUT' | 'ALERTS_ERR_NOTIFY_HTTP' | 'ALERTS_ERR_NOTIFY_REJECTED' | 'ALERTS_ERR_NOTIFY_SMTP'

/** The rendered text of a message in one language: a short title and the body. */
export interface RenderedMessage {
  title: string
  /** Plain text, lines separated by \n. */
  text: string
  /** The same as Markdown (the subset WeCom, DingTalk and Feishu share: headings, bold, quotes). */
  markdown: string
}

const SEVERITY_WORD: Record<ChannelLanguage, Record<AlertNotification['severity'], string>> = {
  zh: { info: '提示', warning: '警告', critical: '严重' },
  en: { info: 'info', warning: 'warning', critical: 'critical' },
}
const EVENT_WORD: Record<ChannelLanguage, Record<AlertNotification['event'], string>> = {
  zh: { opened: '告警', acknowledged: '已确认', cleared: '已恢复' },
  en: { opened: 'alert', acknowledged: 'acknowledged', cleared: 'resolved' },
}
const LABELS: Record<ChannelLanguage, { where: string; rule: string; severity: string; time: string; id: string }> = {
  zh: { where: '位置', rule: '规则', severity: '级别', time: '时间', id: '告警编号' },
  en: { where: 'Where', rule: 'Rule', severity: 'Severity', time: 'Time', id: 'Alert id' },
}

/** Local wall time of an epoch ms in a time zone, `YYYY-MM-DD HH:mm:ss`. */
export function localTime(ts: number, timezone: string): string {
  return new Date(ts).toLocaleString('sv-SE', { timeZone: timezone, hour12: false })
}

/**
 * The message in one language, built from the alert's own text (alerts/text.ts, `n.text.zh|en`).
 * An escalation is headed by how long the alert has gone unacknowledged.
 */
export function renderMessage(m: NotifyMessage, lang: ChannelLanguage, timezone: string): RenderedMessage {
  const n = m.notification
  const l = LABELS[lang]
  const minutes = m.escalation ? Math.round(m.escalation.afterMs / 60_000) : 0
  const head = m.escalation
    ? lang === 'zh'
      ? `[升级] 告警 ${minutes} 分钟未确认`
      : `[escalation] not acknowledged for ${minutes} min`
    : `[${EVENT_WORD[lang][n.event]}] ${SEVERITY_WORD[lang][n.severity]}`
  const title = `${head}: ${n.deviceName} (${n.line})`
  const facts: [string, string][] = [
    [l.where, `${n.enterprise} / ${n.site} / ${n.line} / ${n.deviceName}`],
    [l.rule, n.rule],
    [l.severity, SEVERITY_WORD[lang][n.severity]],
    [l.time, localTime(n.ts, timezone)],
    [l.id, n.alertId],
  ]
  const body = n.text[lang]
  const text = [title, body, ...facts.map(([k, v]) => `${k}: ${v}`)].join('\n')
  const markdown = [`### ${title}`, `> ${body}`, '', ...facts.map(([k, v]) => `**${k}**: ${v}`)].join('\n')
  return { title, text, markdown }
}

/** Origin and path of a URL: robot URLs carry their token in the query, never logged. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return '(invalid url)'
  }
}

/**
 * POSTs JSON and returns the parsed JSON answer. Throws ALERTS_ERR_NOTIFY_TIMEOUT when `signal` fires
 * by timeout, ALERTS_ERR_NOTIFY_HTTP on a network failure, a non-2xx answer or a body that is not JSON.
 */
export async function postJson(url: string, body: unknown, signal: AbortSignal, channel: string): Promise<Record<string, unknown>> {
  const where = `${channel} (${safeUrl(url)})`
  let res: Response
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body), signal })
  } catch (cause) {
    const reason = signal.reason as { name?: string } | undefined
    if (signal.aborted && reason?.name === 'TimeoutError')
      throw new NotifyError('ALERTS_ERR_NOTIFY_TIMEOUT', `${where}: no answer in time`, { retry: true, cause })
    throw new NotifyError('ALERTS_ERR_NOTIFY_HTTP', `${where}: request failed: ${(cause as Error).message}`, { retry: !signal.aborted, cause })
  }
  const text = await res.text().catch(() => '')
  if (!res.ok) throw new NotifyError('ALERTS_ERR_NOTIFY_HTTP', `${where}: answered HTTP ${res.status}`, { retry: true, details: { status: res.status } })
  try {
    const parsed: unknown = JSON.parse(text)
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>
  } catch {
    // reported below
  }
  throw new NotifyError('ALERTS_ERR_NOTIFY_HTTP', `${where}: answered HTTP ${res.status} with a body that is not a JSON object`, {
    retry: true,
    details: { status: res.status },
  })
}

/**
 * Throws ALERTS_ERR_NOTIFY_REJECTED when the robot's code is not 0. Robots answer HTTP 200 with an
 * error code in the body (wrong signature, keyword missing, rate limit); only rate limits are retried.
 */
export function checkRobotCode(channel: string, url: string, code: unknown, message: unknown, rateLimitCodes: readonly number[]): void {
  if (code === 0) return
  const robotCode = typeof code === 'number' ? code : Number.NaN
  const robotMessage = typeof message === 'string' ? message : ''
  throw new NotifyError(
    'ALERTS_ERR_NOTIFY_REJECTED',
    `${channel} (${safeUrl(url)}): the robot refused the message: code ${String(code)} ${robotMessage}`.trim(),
    {
      retry: rateLimitCodes.includes(robotCode),
      details: { robotCode, robotMessage },
    },
  )
}
