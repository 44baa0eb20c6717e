import { checkRobotCode, postJson, renderMessage, type ChannelLanguage, type NotifyChannel, type NotifyMessage } from './channel.ts'

/**
 * WeCom (企业微信) group robot (群机器人).
 *
 * Wire format (https://developer.work.weixin.qq.com/document/path/91770, "群机器人配置说明"):
 *   POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY
 *   Content-Type: application/json
 *   {"msgtype":"markdown","markdown":{"content":"…"}}            content ≤ 4096 bytes, UTF-8
 *   {"msgtype":"text","text":{"content":"…","mentioned_mobile_list":["138…"]}}   content ≤ 2048 bytes
 * Answer: {"errcode":0,"errmsg":"ok"}; errcode ≠ 0 is a refusal (e.g. 93000 invalid key,
 * 45009 frequency limit — 20 messages a minute per robot — the only one retried).
 * The robot has no signature: the key in the URL is the secret.
 */
export interface WecomChannelOptions {
  id: string
  /** The robot's webhook URL with its key. */
  url: string
  format: 'markdown' | 'text'
  language: ChannelLanguage
  /** Text format only: mobile numbers to @-mention ('@all' for everyone). */
  mentionMobiles: readonly string[]
  timezone: string
}

const RATE_LIMIT = [45009]
const MARKDOWN_MAX_BYTES = 4096
const TEXT_MAX_BYTES = 2048

export class WecomChannel implements NotifyChannel {
  readonly kind = 'wecom'
  readonly id: string
  constructor(private readonly o: WecomChannelOptions) {
    this.id = o.id
  }

  /** The request body for a message (exported for tests and documentation). */
  body(m: NotifyMessage): Record<string, unknown> {
    const r = renderMessage(m, this.o.language, this.o.timezone)
    if (this.o.format === 'markdown') return { msgtype: 'markdown', markdown: { content: cutBytes(r.markdown, MARKDOWN_MAX_BYTES) } }
    const text: Record<string, unknown> = { content: cutBytes(r.text, TEXT_MAX_BYTES) }
    if (this.o.mentionMobiles.length > 0) text.mentioned_mobile_list = [...this.o.mentionMobiles]
    return { msgtype: 'text', text }
  }

  async send(m: NotifyMessage, signal: AbortSignal): Promise<void> {
    const answer = await postJson(this.o.url, this.body(m), signal, `wecom channel ${this.id}`)
    checkRobotCode(`wecom channel ${this.id}`, this.o.url, answer.errcode, answer.errmsg, RATE_LIMIT)
  }
}

/** The text cut to at most `max` UTF-8 bytes, on a character boundary. */
export function cutBytes(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text
  let out = ''
  let bytes = 0
  for (const ch of text) {
    const b = Buffer.byteLength(ch, 'utf8')
    if (bytes + b > max - 3) break
    out += ch
    bytes += b
  }
  return `${out}…`
}
