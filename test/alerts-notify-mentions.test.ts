import { afterEach, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { silentLogger } from '../core/logger.ts'
import { createChannels, type ChannelConfig } from '../alerts/notify/config.ts'
import { ChannelHub } from '../alerts/notify/hub.ts'
import { validateAlertsConfig } from '../alerts/rules.ts'
import { note, robotOk, robotServer } from './robot-server.ts'

/**
 * @-mentions as each robot takes them, checked on the exact payload a local robot server receives:
 * DingTalk's "everyone" is `isAtAll: true` (never "@all" as a mobile or in the text); WeCom mentions by
 * mobile only in a text message (`mentioned_mobile_list`), so markdown + mentionMobiles is refused by
 * the config check instead of sent without the mention.
 */

const TZ = 'Asia/Shanghai'
const logger = silentLogger()
let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

function hubOf(channels: Record<string, unknown>[]): ChannelHub {
  const { config } = validateAlertsConfig({ channels: channels.map((c) => ({ initialBackoffMs: 10, maxBackoffMs: 20, maxAttempts: 1, ...c })) })
  const hub = new ChannelHub(createChannels(config.channels as ChannelConfig[], TZ), logger)
  cleanups.push(() => hub.close())
  return hub
}

const TITLE = '[告警] 严重: 总表 Incomer (l1)'
const ZH_TEXT = [
  TITLE,
  '[告警] 总表 Incomer (l1)：active_power_kw = 150，超过上限 100',
  '位置: acme / wuhan / l1 / 总表 Incomer',
  '规则: power-high',
  '级别: 严重',
  '时间: 2026-01-15 10:00:00',
  '告警编号: mkfo0g00-1x2y3z',
].join('\n')

describe('DingTalk @all', () => {
  it('sets isAtAll: true, keeps "@all" out of atMobiles and the text; mobiles given beside it are still mentioned by number', async () => {
    const robot = await robotServer(robotOk)
    cleanups.push(() => robot.close())
    const hub = hubOf([
      { id: 'all-text', kind: 'dingtalk', url: `${robot.url}/robot/send?access_token=a`, format: 'text', mentionMobiles: ['@all'] },
      { id: 'all-md', kind: 'dingtalk', url: `${robot.url}/robot/send?access_token=b`, mentionMobiles: ['13900000000', '@all'] },
    ])
    hub.send(note())
    await hub.idle()
    const byToken = (t: string) => robot.received.find((r) => r.url.endsWith(`access_token=${t}`))?.body
    expect(byToken('a')).toEqual({ msgtype: 'text', text: { content: ZH_TEXT }, at: { atMobiles: [], isAtAll: true } })
    const md = byToken('b') as { markdown: { title: string; text: string }; at: unknown }
    expect(md.at).toEqual({ atMobiles: ['13900000000'], isAtAll: true })
    expect(md.markdown.title).toBe(TITLE)
    expect(md.markdown.text.endsWith('\n\n@13900000000')).toBe(true)
    expect(JSON.stringify(robot.received.map((r) => r.body))).not.toContain('@all')
    expect(hub.stats().map((s) => s.delivered)).toEqual([1, 1])
  })
})

describe('WeCom mentions', () => {
  it('a text message carries mentioned_mobile_list (with "@all" as WeCom spells everyone)', async () => {
    const robot = await robotServer(robotOk)
    cleanups.push(() => robot.close())
    const hub = hubOf([{ id: 'w', kind: 'wecom', url: `${robot.url}/cgi-bin/webhook/send?key=k`, format: 'text', mentionMobiles: ['13800000000', '@all'] }])
    hub.send(note())
    await hub.idle()
    expect(robot.received.map((r) => r.body)).toEqual([{ msgtype: 'text', text: { content: ZH_TEXT, mentioned_mobile_list: ['13800000000', '@all'] } }])
  })

  it('mentionMobiles with the markdown format (given or by default) is refused at config validation, naming the path; an empty list passes', () => {
    const problems = (channels: unknown[]) => {
      try {
        validateAlertsConfig({ channels })
        return []
      } catch (err) {
        if (!isPlantWattError(err, 'ALERTS_ERR_CONFIG')) throw err
        return (err.details as { path: string; message: string }[]).map((p) => `${p.path}: ${p.message}`)
      }
    }
    const why =
      'a wecom markdown message cannot @-mention by mobile (only a text message carries mentioned_mobile_list): set format: text or remove mentionMobiles'
    expect(
      problems([
        { id: 'a', kind: 'wecom', url: 'https://x/send?key=k', mentionMobiles: ['13800000000'] },
        { id: 'b', kind: 'wecom', url: 'https://x/send?key=k', format: 'markdown', mentionMobiles: ['@all'] },
      ]),
    ).toEqual([`/channels/0/mentionMobiles: ${why}`, `/channels/1/mentionMobiles: ${why}`])
    expect(problems([{ id: 'c', kind: 'wecom', url: 'https://x/send?key=k', mentionMobiles: [] }])).toEqual([])
  })
})
