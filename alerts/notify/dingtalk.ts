import { createHmac } from 'node:crypto'
import { checkRobotCode, postJson, renderMessage, type ChannelLanguage, type NotifyChannel, type NotifyMessage } from './channel.ts'

/**
 * DingTalk (钉钉) custom robot (自定义机器人) with the signature security setting (加签).
 *
 * Wire format (https://open.dingtalk.com/document/robots/customize-robot-security-settings and
 * https://open.dingtalk.com/document/robots/custom-robot-access, "自定义机器人发送群消息"):
 *   stringToSign = timestamp + "\n" + secret        timestamp: epoch ms, within 1 h of DingTalk's clock
 *   sign = urlEncode(base64(HmacSHA256(key = secret, message = stringToSign)))   (UTF-8)
 *   POST https://oapi.dingtalk.com/robot/send?access_token=TOKEN&timestamp=TS&sign=SIGN
 *   {"msgtype":"markdown","markdown":{"title":"…","text":"…"},"at":{"atMobiles":["138…"],"isAtAll":false}}
 *   {"msgtype":"text","text":{"content":"…"},"at":{…}}
 * A mobile in atMobiles is only mentioned when "@<mobile>" is also in the text; everyone is mentioned
 * by "isAtAll": true (no mobile, nothing in the text).
 * Answer: {"errcode":0,"errmsg":"ok"}; errcode ≠ 0 is a refusal (310000 sign not match or
 * timestamp too old / keywords not in content, 300001 invalid token, 130101 sending too fast — the
 * only one retried). A robot without 加签 takes the same request without timestamp and sign.
 */
export interface DingtalkChannelOptions {
  id: string
  /** The robot's webhook URL with its access_token. */
  url: string
  /** The SEC… secret of 加签; undefined = a robot without signature. */
  secret: string | undefined
  format: 'markdown' | 'text'
  language: ChannelLanguage
  /**
   * Mobile numbers to @-mention (their numbers are appended to the text, as DingTalk requires);
   * '@all' sets `isAtAll: true` instead (everyone in the group).
   */
  mentionMobiles: readonly string[]
  timezone: string
  /** Clock for the signature, epoch ms. Default Date.now. */
  now?: () => number
}

const RATE_LIMIT = [130101]
/** The config's word for "everyone in the group" (`mentionMobiles: ['@all']`). */
const AT_ALL = '@all'

/** The DingTalk signature of a timestamp (epoch ms), before URL encoding. */
export function dingtalkSign(timestamp: number, secret: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64')
}

export class DingtalkChannel implements NotifyChannel {
  readonly kind = 'dingtalk'
  readonly id: string
  constructor(private readonly o: DingtalkChannelOptions) {
    this.id = o.id
  }

  /** The URL with timestamp and sign (when a secret is set). */
  signedUrl(timestamp: number): string {
    if (this.o.secret === undefined) return this.o.url
    const u = new URL(this.o.url)
    // URLSearchParams encodes as application/x-www-form-urlencoded: '+' → %2B, '/' → %2F, '=' → %3D.
    u.searchParams.set('timestamp', String(timestamp))
    u.searchParams.set('sign', dingtalkSign(timestamp, this.o.secret))
    return u.toString()
  }

  body(m: NotifyMessage): Record<string, unknown> {
    const r = renderMessage(m, this.o.language, this.o.timezone)
    // '@all' is DingTalk's isAtAll, not a mobile number: it goes neither into atMobiles nor into the text.
    const mobiles = this.o.mentionMobiles.filter((p) => p !== AT_ALL)
    const mentions = mobiles.map((p) => `@${p}`).join(' ')
    const at = { atMobiles: mobiles, isAtAll: this.o.mentionMobiles.includes(AT_ALL) }
    if (this.o.format === 'markdown')
      return { msgtype: 'markdown', markdown: { title: r.title, text: mentions ? `${r.markdown}\n\n${mentions}` : r.markdown }, at }
    return { msgtype: 'text', text: { content: mentions ? `${r.text}\n${mentions}` : r.text }, at }
  }

  async send(m: NotifyMessage, signal: AbortSignal): Promise<void> {
    const url = this.signedUrl((this.o.now ?? Date.now)())
    const answer = await postJson(url, this.body(m), signal, `dingtalk channel ${this.id}`)
    checkRobotCode(`dingtalk channel ${this.id}`, this.o.url, answer.errcode, answer.errmsg, RATE_LIMIT)
  }
}
