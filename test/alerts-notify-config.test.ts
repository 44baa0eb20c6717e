import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { createChannels } from '../alerts/notify/config.ts'
import { SEVERITIES, validateAlertsConfig } from '../alerts/rules.ts'
import { ChannelSchema } from '../alerts/notify/config.ts'

/** The sample notification config, and the config checks of channels and escalation. */

const problemsOf = (raw: unknown): { path: string; message: string }[] => {
  try {
    validateAlertsConfig(raw)
  } catch (err) {
    if (isPlantWattError(err, 'ALERTS_ERR_CONFIG')) return err.details as { path: string; message: string }[]
    throw err
  }
  return []
}

describe('alerts channels and escalation config', () => {
  it('examples/alerts-notify.yaml validates and its channels are created from the environment and files', () => {
    const raw = parseConfigText(readFileSync(new URL('../examples/alerts-notify.yaml', import.meta.url), 'utf8'), 'alerts-notify.yaml') as { alerts: unknown }
    const { config } = validateAlertsConfig(raw.alerts, 'examples/alerts-notify.yaml')
    expect(config.channels.map((c) => [c.id, c.kind, c.language, c.use])).toEqual([
      ['shift-wecom', 'wecom', 'zh', 'always'],
      ['duty-dingtalk', 'dingtalk', 'zh', 'always'],
      ['vendor-feishu', 'feishu', 'en', 'always'],
      ['manager-mail', 'email', 'zh', 'escalation'],
    ])
    expect(config.escalation.map((e) => [e.id, e.after, e.channels])).toEqual([
      ['critical-15m', '15m', ['duty-dingtalk', 'manager-mail']],
      ['eaf-1h', '1h', ['manager-mail']],
    ])
    const env = {
      PW_WECOM_URL: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k',
      PW_DINGTALK_URL: 'https://oapi.dingtalk.com/robot/send?access_token=t',
      PW_DINGTALK_SECRET: 'SECx',
      PW_FEISHU_URL: 'https://open.feishu.cn/open-apis/bot/v2/hook/h',
      PW_SMTP_PASSWORD: 'p',
    }
    const channels = createChannels(config.channels, 'Asia/Shanghai', { env, readFirstLine: (p) => (p === '/run/secrets/feishu-bot' ? 'fs-secret' : '') })
    expect(channels.map((c) => c.channel.kind)).toEqual(['wecom', 'dingtalk', 'feishu', 'email'])
    // Missing secrets are reported all at once, by path, naming the variable — never a value.
    try {
      createChannels(config.channels, 'Asia/Shanghai', {
        env: { PW_WECOM_URL: 'not a url' },
        readFirstLine: () => {
          throw Object.assign(new Error('x'), { code: 'ENOENT' })
        },
      })
      expect.unreachable()
    } catch (err) {
      expect(isPlantWattError(err, 'ALERTS_ERR_CONFIG')).toBe(true)
      expect((err as { details: { path: string }[] }).details.map((p) => p.path)).toEqual([
        '/channels/0/urlEnv',
        '/channels/1/urlEnv',
        '/channels/1/secretEnv',
        '/channels/2/urlEnv',
        '/channels/2/secretEnv',
        '/channels/3/passwordEnv',
      ])
    }
  })

  it('reports every problem of channels and escalation by path', () => {
    const problems = problemsOf({
      channels: [
        { id: 'a', kind: 'wecom', url: 'https://x/send?key=k', urlEnv: 'X', secretEnv: 'S', format: 'interactive' },
        { id: 'a', kind: 'feishu', url: 'https://x/hook', secretEnv: 'S', secretFile: '/s' },
        { id: 'm', kind: 'email', host: 'h', username: 'u', url: 'https://x' },
        { id: 'z', kind: 'sms', url: 'https://x' },
        { id: 'l', kind: 'dingtalk', url: 'https://x', language: 'fr' },
      ],
      escalation: [
        { id: 'e', after: '10m', channels: ['a', 'nope'] },
        { id: 'f', after: 'soon', channels: [] },
      ],
    })
    const paths = problems.map((p) => p.path)
    for (const p of [
      '/channels/0/url',
      '/channels/0/secretEnv',
      '/channels/0/format',
      '/channels/1/id',
      '/channels/1/secretEnv',
      '/channels/2/from',
      '/channels/2/to',
      '/channels/2/username',
      '/channels/2/url',
      '/channels/3/kind',
      '/channels/4/language',
      '/escalation/0/channels/1',
      '/escalation/1/after',
      '/escalation/1/channels',
    ])
      expect(paths).toContain(p)
    expect(problems.find((p) => p.path === '/escalation/0/channels/1')?.message).toBe('no channel "nope" in alerts.channels')
  })

  it('channel severities are the rule severities', () => {
    for (const s of SEVERITIES) expect(problemsOf({ channels: [{ id: 'w', kind: 'wecom', url: 'https://x', minSeverity: s }] })).toEqual([])
    expect(JSON.stringify(ChannelSchema.properties.minSeverity)).toContain('critical')
  })
})
