import { createHmac } from 'node:crypto'
import { checkRobotCode, postJson, renderMessage, type ChannelLanguage, type NotifyChannel, type NotifyMessage } from './channel.ts'

/**
 * Feishu (飞书) / Lark custom bot (自定义机器人) with the signature setting (签名校验).
 *
 * Wire format (https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot, Lark:
 * https://open.larksuite.com/document/client-docs/bot-v3/add-custom-bot):
 *   stringToSign = timestamp + "\n" + secret        timestamp: epoch SECONDS, within 1 h
 *   sign = base64(HmacSHA256(key = stringToSign, message = ""))     — note: the key is the string, the message empty
 *   POST https://open.feishu.cn/open-apis/bot/v2/hook/HOOK_ID   (Lark: open.larksuite.com)
 *   {"timestamp":"1599360473","sign":"…","msg_type":"text","content":{"text":"…"}}
 *   {"timestamp":"…","sign":"…","msg_type":"interactive","card":{"header":{"title":{"tag":"plain_text","content":"…"},"template":"red"},
 *    "elements":[{"tag":"markdown","content":"…"}]}}
 * Answer: {"code":0,"msg":"success","data":{}}; code ≠ 0 is a refusal (19021 sign match fail or
 * timestamp not within one hour, 19024 key words not found, 9499 / 11232 frequency limit — retried).
 * Older answers carry {"StatusCode":0,"StatusMessage":"success"} only; both are read.
 */
export interface FeishuChannelOptions {
  id: string
  /** The bot's webhook URL. */
  url: string
  /** The 签名校验 secret; undefined = a bot without signature. */
  secret: string | undefined
  format: 'interactive' | 'text'
  language: ChannelLanguage
  timezone: string
  /** Clock for the signature, epoch ms. Default Date.now. */
  now?: () => number
}

const RATE_LIMIT = [9499, 11232]
const TEMPLATE = { critical: 'red', warning: 'orange', info: 'blue' } as const

/** The Feishu/Lark signature of a timestamp (epoch seconds). */
export function feishuSign(timestampS: number, secret: string): string {
  return createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64')
}

export class FeishuChannel implements NotifyChannel {
  readonly kind = 'feishu'
  readonly id: string
  constructor(private readonly o: FeishuChannelOptions) {
    this.id = o.id
  }

  body(m: NotifyMessage, nowMs: number): Record<string, unknown> {
    const r = renderMessage(m, this.o.language, this.o.timezone)
    const signed: Record<string, unknown> = {}
    if (this.o.secret !== undefined) {
      const ts = Math.floor(nowMs / 1000)
      signed.timestamp = String(ts)
      signed.sign = feishuSign(ts, this.o.secret)
    }
    if (this.o.format === 'text') return { ...signed, msg_type: 'text', content: { text: r.text } }
    const template = m.escalation ? 'red' : m.notification.event === 'opened' ? TEMPLATE[m.notification.severity] : 'green'
    const body = r.markdown.split('\n').slice(1).join('\n') // the title is the card's header
    return {
      ...signed,
      msg_type: 'interactive',
      card: { header: { title: { tag: 'plain_text', content: r.title }, template }, elements: [{ tag: 'markdown', content: body }] },
    }
  }

  async send(m: NotifyMessage, signal: AbortSignal): Promise<void> {
    const answer = await postJson(this.o.url, this.body(m, (this.o.now ?? Date.now)()), signal, `feishu channel ${this.id}`)
    const code = answer.code ?? answer.StatusCode
    checkRobotCode(`feishu channel ${this.id}`, this.o.url, code, answer.msg ?? answer.StatusMessage, RATE_LIMIT)
  }
}
