import { createHmac, randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { MemoryEventLog, type StoredEvent } from '../storage/events.ts'
import { ALERT_EVENT_KIND, loadAlert } from '../alerts/events.ts'
import { Escalator, ESCALATION_KIND } from '../alerts/escalation.ts'
import { AlertNotifier } from '../alerts/notifier.ts'
import { createChannels, type ChannelConfig } from '../alerts/notify/config.ts'
import { ChannelHub } from '../alerts/notify/hub.ts'
import { validateAlertsConfig } from '../alerts/rules.ts'
import { SilenceBook, silenceCreatedEvent } from '../alerts/silences.ts'
import type { AlertTransition } from '../alerts/engine.ts'
import { note, type Received, type RobotServer, robotServer as startRobotServer, T0 } from './robot-server.ts'

/**
 * Each channel against a local server that speaks its side of the protocol and checks the exact
 * payload and signature: an HTTP server playing the WeCom, DingTalk and Feishu robots (it verifies
 * the signature with the secret it was given, as the robot does, and answers the robot's error when
 * it does not match), and an SMTP server (smtp-server) that checks AUTH and records the message.
 * Secrets are generated per run.
 */

const TZ = 'Asia/Shanghai'
const logger = silentLogger()

let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

/** A local robot server closed after the test (test/robot-server.ts). */
async function robotServer(answer: (r: Received, res: ServerResponse) => void): Promise<RobotServer> {
  const server = await startRobotServer(answer)
  cleanups.push(() => server.close())
  return server
}

const json = (res: ServerResponse, body: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

/** The Chinese Markdown every robot gets for `note()` (written out here, not computed by the code under test). */
const ZH_MARKDOWN = [
  '### [告警] 严重: 总表 Incomer (l1)',
  '> [告警] 总表 Incomer (l1)：active_power_kw = 150，超过上限 100',
  '',
  '**位置**: acme / wuhan / l1 / 总表 Incomer',
  '**规则**: power-high',
  '**级别**: 严重',
  '**时间**: 2026-01-15 10:00:00',
  '**告警编号**: mkfo0g00-1x2y3z',
].join('\n')
const ZH_TEXT = [
  '[告警] 严重: 总表 Incomer (l1)',
  '[告警] 总表 Incomer (l1)：active_power_kw = 150，超过上限 100',
  '位置: acme / wuhan / l1 / 总表 Incomer',
  '规则: power-high',
  '级别: 严重',
  '时间: 2026-01-15 10:00:00',
  '告警编号: mkfo0g00-1x2y3z',
].join('\n')

/** Channels from raw config (validated as the service does), fast retries unless given. */
function hubOf(channels: Record<string, unknown>[], env: Record<string, string> = {}): ChannelHub {
  const { config } = validateAlertsConfig({ channels: channels.map((c) => ({ initialBackoffMs: 10, maxBackoffMs: 20, ...c })) })
  const hub = new ChannelHub(createChannels(config.channels as ChannelConfig[], TZ, { env }), logger)
  cleanups.push(() => hub.close())
  return hub
}

describe('WeCom group robot', () => {
  it('posts the markdown message to the key URL; errcode ≠ 0 becomes ALERTS_ERR_NOTIFY_REJECTED with the robot code, not retried', async () => {
    const key = randomBytes(8).toString('hex')
    const robot = await robotServer((r, res) =>
      json(res, r.url === `/cgi-bin/webhook/send?key=${key}` ? { errcode: 0, errmsg: 'ok' } : { errcode: 93000, errmsg: 'invalid webhook url' }),
    )
    const hub = hubOf([
      { id: 'wecom', kind: 'wecom', url: `${robot.url}/cgi-bin/webhook/send?key=${key}` },
      {
        id: 'wecom-en-text',
        kind: 'wecom',
        url: `${robot.url}/cgi-bin/webhook/send?key=${key}`,
        format: 'text',
        language: 'en',
        mentionMobiles: ['13800000000'],
      },
      { id: 'wecom-bad-key', kind: 'wecom', url: `${robot.url}/cgi-bin/webhook/send?key=wrong` },
    ])
    hub.send(note())
    await hub.idle()
    const byKey = new Map(robot.received.map((r) => [JSON.stringify(r.body).includes('"text"') ? 'text' : r.url.endsWith('wrong') ? 'bad' : 'md', r]))
    expect(byKey.get('md')).toEqual({
      method: 'POST',
      url: `/cgi-bin/webhook/send?key=${key}`,
      contentType: 'application/json; charset=utf-8',
      body: { msgtype: 'markdown', markdown: { content: ZH_MARKDOWN } },
    })
    expect(byKey.get('text')?.body).toEqual({
      msgtype: 'text',
      text: {
        content: [
          '[alert] critical: 总表 Incomer (l1)',
          '[alert] 总表 Incomer (l1): active_power_kw = 150, above the limit 100',
          'Where: acme / wuhan / l1 / 总表 Incomer',
          'Rule: power-high',
          'Severity: critical',
          'Time: 2026-01-15 10:00:00',
          'Alert id: mkfo0g00-1x2y3z',
        ].join('\n'),
        mentioned_mobile_list: ['13800000000'],
      },
    })
    const [ok, en, bad] = hub.stats()
    expect(ok).toMatchObject({ id: 'wecom', kind: 'wecom', delivered: 1, attempts: 1, failed: 0, lastError: null })
    expect(en).toMatchObject({ delivered: 1 })
    expect(bad).toMatchObject({ delivered: 0, attempts: 1, retried: 0, failed: 1, lastError: { code: 'ALERTS_ERR_NOTIFY_REJECTED', robotCode: 93000 } })
    expect(bad?.lastError?.message).toContain('invalid webhook url')
    expect(bad?.lastError?.message).not.toContain('wrong') // the key in the URL is never reported
  })
})

describe('DingTalk custom robot with 加签', () => {
  it('signs timestamp + "\\n" + secret with HMAC-SHA256 (key = secret), base64, URL-encoded in the query; a wrong secret is refused (310000) and reported', async () => {
    const secret = `SEC${randomBytes(16).toString('hex')}`
    const token = randomBytes(8).toString('hex')
    const robot = await robotServer((r, res) => {
      // As DingTalk checks it: recompute the signature from the timestamp with the robot's secret.
      const u = new URL(r.url, 'http://x')
      const ts = u.searchParams.get('timestamp') ?? ''
      const expected = createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64')
      const rawSign = /[?&]sign=([^&]*)/.exec(r.url)?.[1] ?? ''
      const fresh = Math.abs(Date.now() - Number(ts)) < 3_600_000
      const ok = u.pathname === '/robot/send' && u.searchParams.get('access_token') === token && rawSign === encodeURIComponent(expected) && fresh
      json(res, ok ? { errcode: 0, errmsg: 'ok' } : { errcode: 310000, errmsg: 'sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]' })
    })
    const env = { DT_SECRET: secret, DT_WRONG: `SEC${randomBytes(16).toString('hex')}` }
    const url = `${robot.url}/robot/send?access_token=${token}`
    const hub = hubOf(
      [
        { id: 'dingtalk', kind: 'dingtalk', url, secretEnv: 'DT_SECRET', mentionMobiles: ['13900000000'] },
        { id: 'dingtalk-wrong', kind: 'dingtalk', url, secretEnv: 'DT_WRONG' },
      ],
      env,
    )
    const before = Date.now()
    hub.send(note())
    await hub.idle()
    expect(robot.received).toHaveLength(2)
    const good = robot.received.find((r) => JSON.stringify(r.body).includes('13900000000'))
    const ts = Number(new URL(good?.url ?? '', 'http://x').searchParams.get('timestamp'))
    expect(ts).toBeGreaterThanOrEqual(before)
    expect(ts).toBeLessThanOrEqual(Date.now())
    expect(good?.body).toEqual({
      msgtype: 'markdown',
      markdown: { title: '[告警] 严重: 总表 Incomer (l1)', text: `${ZH_MARKDOWN}\n\n@13900000000` },
      at: { atMobiles: ['13900000000'], isAtAll: false },
    })
    const [ok, wrong] = hub.stats()
    expect(ok).toMatchObject({ delivered: 1, failed: 0, lastError: null })
    expect(wrong).toMatchObject({ delivered: 0, attempts: 1, failed: 1, lastError: { code: 'ALERTS_ERR_NOTIFY_REJECTED', robotCode: 310000 } })
    expect(wrong?.lastError?.message).toContain('sign not match')
    expect(wrong?.lastError?.message).not.toContain(token)
  })
})

describe('Feishu / Lark custom bot with 签名校验', () => {
  it('puts timestamp (s) and sign = base64(HMAC-SHA256 keyed by timestamp + "\\n" + secret over "") in the body; interactive card; a wrong secret is code 19021', async () => {
    const secret = randomBytes(16).toString('base64url')
    const robot = await robotServer((r, res) => {
      const b = r.body as { timestamp?: string; sign?: string }
      const expected = createHmac('sha256', `${b.timestamp}\n${secret}`).update('').digest('base64')
      const ok = r.url.startsWith('/open-apis/bot/v2/hook/') && b.sign === expected && Math.abs(Date.now() / 1000 - Number(b.timestamp)) < 3600
      json(
        res,
        ok ? { code: 0, msg: 'success', data: {} } : { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time', data: {} },
      )
    })
    const hub = hubOf(
      [
        { id: 'feishu', kind: 'feishu', url: `${robot.url}/open-apis/bot/v2/hook/hook-1`, secretEnv: 'FS_SECRET' },
        { id: 'feishu-text', kind: 'feishu', url: `${robot.url}/open-apis/bot/v2/hook/hook-1`, secretEnv: 'FS_SECRET', format: 'text', events: ['cleared'] },
        { id: 'feishu-wrong', kind: 'feishu', url: `${robot.url}/open-apis/bot/v2/hook/hook-2`, secretEnv: 'FS_WRONG' },
      ],
      { FS_SECRET: secret, FS_WRONG: 'not-the-secret' },
    )
    hub.send(note())
    await hub.idle()
    expect(robot.received).toHaveLength(2) // feishu-text takes only `cleared`
    const card = robot.received.find((r) => r.url.endsWith('hook-1'))?.body as Record<string, unknown>
    expect(card?.timestamp).toMatch(/^[0-9]{10}$/)
    const { timestamp, sign, ...rest } = card as { timestamp: string; sign: string }
    expect(sign).toBe(createHmac('sha256', `${timestamp}\n${secret}`).update('').digest('base64'))
    expect(rest).toEqual({
      msg_type: 'interactive',
      card: {
        header: { title: { tag: 'plain_text', content: '[告警] 严重: 总表 Incomer (l1)' }, template: 'red' },
        elements: [{ tag: 'markdown', content: ZH_MARKDOWN.split('\n').slice(1).join('\n') }],
      },
    })
    hub.send(
      note({
        event: 'cleared',
        state: 'resolved',
        text: { zh: '[已恢复] 总表 Incomer (l1)：恢复正常（80.0）', en: '[resolved] 总表 Incomer (l1): back to normal (80.0)' },
      }),
    )
    await hub.idle()
    const text = robot.received.map((r) => r.body as { msg_type: string; content?: { text: string } }).find((b) => b.msg_type === 'text')
    expect(text?.content?.text.split('\n').slice(0, 2)).toEqual(['[已恢复] 严重: 总表 Incomer (l1)', '[已恢复] 总表 Incomer (l1)：恢复正常（80.0）'])
    const wrong = hub.stats()[2]
    expect(wrong).toMatchObject({ delivered: 0, failed: 2, attempts: 2, lastError: { code: 'ALERTS_ERR_NOTIFY_REJECTED', robotCode: 19021 } })
  })
})

/** A local SMTP server (no TLS) that requires AUTH with the given password and records messages. */
async function smtpServer(user: string, pass: string, refuse?: string): Promise<{ port: number; mails: { from: string; to: string[]; raw: string }[] }> {
  const mails: { from: string; to: string[]; raw: string }[] = []
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === pass) cb(null, { user })
      else cb(new Error('535 authentication failed'))
    },
    onRcptTo(address, _session, cb) {
      if (address.address === refuse) {
        const err = new Error('mailbox unavailable') as Error & { responseCode: number }
        err.responseCode = 550
        cb(err)
      } else cb()
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const from = session.envelope.mailFrom
        mails.push({ from: from ? from.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') })
        cb()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.server.address() as AddressInfo).port, mails }
}

/** Subject (RFC 2047 encoded words) and body (base64) of a raw message. */
function parseMail(raw: string): { subject: string; text: string; headers: string } {
  const [headers = '', body = ''] = raw.split(/\r\n\r\n/, 2)
  const unfolded = headers.replace(/\r\n[ \t]+/g, ' ')
  const subjectLine = /^Subject: (.*)$/m.exec(unfolded)?.[1] ?? ''
  const subject = subjectLine.replace(/=\?utf-8\?([BQ])\?([^?]*)\?=\s*/gi, (_, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(
          data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
          'latin1',
        ).toString('utf8'),
  )
  return { subject, text: Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8'), headers: unfolded }
}

describe('e-mail (SMTP)', () => {
  it('sends subject and text in Chinese with AUTH to every recipient; a 550 recipient is ALERTS_ERR_NOTIFY_SMTP, not retried; a wrong password too', async () => {
    const pass = randomBytes(12).toString('hex')
    const smtp = await smtpServer('alerts', pass, 'gone@acme.cn')
    const base = { kind: 'email', host: '127.0.0.1', port: smtp.port, security: 'none', username: 'alerts', from: 'PlantWatt <alerts@acme.cn>' }
    const hub = hubOf(
      [
        { ...base, id: 'mail', passwordEnv: 'SMTP_PW', to: ['duty@acme.cn', 'lead@acme.cn'] },
        { ...base, id: 'mail-gone', passwordEnv: 'SMTP_PW', to: ['gone@acme.cn'] },
        { ...base, id: 'mail-bad-pw', passwordEnv: 'SMTP_BAD', to: ['duty@acme.cn'] },
      ],
      { SMTP_PW: pass, SMTP_BAD: 'nope' },
    )
    hub.send(note())
    await hub.idle()
    expect(smtp.mails).toHaveLength(1)
    const mail = smtp.mails[0]
    expect(mail?.from).toBe('alerts@acme.cn')
    expect(mail?.to).toEqual(['duty@acme.cn', 'lead@acme.cn'])
    const parsed = parseMail(mail?.raw ?? '')
    expect(parsed.subject).toBe('[告警] 严重: 总表 Incomer (l1)')
    expect(parsed.text).toBe(ZH_TEXT)
    expect(parsed.headers).toMatch(/Content-Type: text\/plain; charset=utf-8/i)
    const [ok, gone, badPw] = hub.stats()
    expect(ok).toMatchObject({ delivered: 1, failed: 0 })
    expect(gone).toMatchObject({ delivered: 0, attempts: 1, failed: 1, lastError: { code: 'ALERTS_ERR_NOTIFY_SMTP', status: 550 } })
    expect(badPw).toMatchObject({ delivered: 0, attempts: 1, failed: 1, lastError: { code: 'ALERTS_ERR_NOTIFY_SMTP' } })
    expect(badPw?.lastError?.message).not.toContain('nope')
  })
})

describe('a receiver that fails or hangs', () => {
  it('retries a 500 with backoff until it answers; an endpoint that never answers is cut off (ALERTS_ERR_NOTIFY_TIMEOUT) and its queue stays bounded', async () => {
    let calls = 0
    const flaky = await robotServer((_r, res) => (++calls <= 2 ? json(res, { error: 'boom' }, 500) : json(res, { errcode: 0, errmsg: 'ok' })))
    const hanging = await robotServer(() => undefined)
    const hub = hubOf([
      { id: 'flaky', kind: 'wecom', url: `${flaky.url}/send?key=k`, maxAttempts: 4 },
      { id: 'hang', kind: 'wecom', url: `${hanging.url}/send?key=k`, timeoutMs: 300, maxAttempts: 2, queueSize: 2 },
    ])
    const started = performance.now()
    for (let i = 0; i < 5; i++) hub.send(note({ alertId: `a${i}-x` }))
    expect(performance.now() - started).toBeLessThan(150) // send() only queues: far below one timeout
    expect(hub.stats()[1]).toMatchObject({ queued: 2, dropped: 3 }) // 1 (in flight), 2 and 3 pushed out by 3, 4 and 5
    await hub.idle()
    const [f, h] = hub.stats()
    expect(f).toMatchObject({ delivered: 5, retried: 2, attempts: 7, failed: 0 })
    expect(flaky.received).toHaveLength(7)
    expect(h).toMatchObject({ delivered: 0, queued: 0, dropped: 3, failed: 2, lastError: { code: 'ALERTS_ERR_NOTIFY_TIMEOUT' } })
    expect(h?.attempts).toBe(6) // 3 messages (the one in flight, 4 and 5) × 2 attempts
  })

  it('detection never waits on a channel: the engine keeps raising and storing alerts while a robot hangs', async () => {
    const { AlertEngine } = await import('../alerts/engine.ts')
    const { validateConfig } = await import('../core/config.ts')
    const { PlantModelSchema } = await import('../core/plant.ts')
    const plant = validateConfig(PlantModelSchema, {
      enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: Array.from({ length: 20 }, (_, i) => ({ id: `m${i}` })) }] }] }],
    })
    const { rules } = validateAlertsConfig({
      rules: [{ id: 'power-high', kind: 'threshold', quantity: 'active_power_kw', above: 100, for: '0', clearAfter: '0' }],
    })
    const engine = new AlertEngine({ plant, rules })
    const hanging = await robotServer(() => undefined)
    const healthy = await robotServer((_r, res) => json(res, { errcode: 0, errmsg: 'ok' }))
    const hub = hubOf([
      { id: 'hang', kind: 'dingtalk', url: `${hanging.url}/robot/send?access_token=t`, timeoutMs: 800, maxAttempts: 1, queueSize: 2 },
      { id: 'ok', kind: 'wecom', url: `${healthy.url}/send?key=k` },
    ])
    const stored: StoredEvent[] = []
    const notifier = new AlertNotifier({
      engine,
      events: { add: (e) => stored.push(e) },
      broker: { publishAlert: () => undefined },
      webhooks: { send: () => undefined },
      channels: hub,
      logger,
    })
    const started = performance.now()
    for (let i = 0; i < 20; i++)
      notifier.notifyAll(
        engine.ingest({ enterprise: 'acme', site: 'wuhan', line: 'l1', device: `m${i}` }, { ts: T0 + i * 1000, values: { active_power_kw: 150 } }),
      )
    const elapsed = performance.now() - started
    expect(engine.openAlerts()).toHaveLength(20)
    expect(stored.filter((e) => e.tags.event === 'opened')).toHaveLength(20)
    expect(elapsed).toBeLessThan(400) // far below one timeout of the hanging robot
    await hub.idle()
    const [hang, ok] = hub.stats()
    expect(ok).toMatchObject({ delivered: 20 })
    expect(hang).toMatchObject({ delivered: 0, dropped: 18, failed: 2, lastError: { code: 'ALERTS_ERR_NOTIFY_TIMEOUT' } })
  })
})

describe('escalation', () => {
  it('tells the escalation channels once when an alert is still firing after `after`, records it; an acknowledged alert is not escalated', async () => {
    const robot = await robotServer((_r, res) => json(res, { errcode: 0, errmsg: 'ok' }))
    const { config } = validateAlertsConfig({
      channels: [
        { id: 'duty', kind: 'wecom', url: `${robot.url}/send?key=duty` },
        { id: 'boss', kind: 'wecom', url: `${robot.url}/send?key=boss`, use: 'escalation', format: 'text' },
      ],
      escalation: [{ id: 'critical-15m', minSeverity: 'critical', after: '15m', channels: ['boss'] }],
    })
    const hub = new ChannelHub(createChannels(config.channels, TZ), logger)
    cleanups.push(() => hub.close())
    const recorded: StoredEvent[] = []
    const escalator = new Escalator({ rules: config.escalation, hub, events: { add: (e) => recorded.push(e) }, logger })
    hub.send(note())
    escalator.observe(note())
    escalator.observe(note({ alertId: 'mkfo0g00-acked' }))
    escalator.observe(note({ alertId: 'mkfo0g00-acked', event: 'acknowledged', state: 'acknowledged', user: 'li-wei' }))
    escalator.observe(note({ alertId: 'mkfo0g00-warn', severity: 'warning' }))
    expect(escalator.check(T0 + 15 * 60_000 - 1)).toBe(0)
    expect(escalator.check(T0 + 15 * 60_000)).toBe(1)
    expect(escalator.check(T0 + 60 * 60_000)).toBe(0)
    await hub.idle()
    const toBoss = robot.received.filter((r) => r.url.endsWith('key=boss'))
    expect(toBoss).toHaveLength(1)
    const bossText = (toBoss[0]?.body ?? { text: { content: '' } }) as { text: { content: string } }
    expect(bossText.text.content.split('\n')[0]).toBe('[升级] 告警 15 分钟未确认: 总表 Incomer (l1)')
    expect(robot.received.filter((r) => r.url.endsWith('key=duty'))).toHaveLength(1) // the opening only: `use: escalation` channels get nothing else
    expect(recorded).toEqual([
      {
        kind: ESCALATION_KIND,
        ts: T0 + 15 * 60_000,
        tags: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'main', rule: 'power-high', severity: 'critical', escalation: 'critical-15m' },
        fields: {
          alert_id: 'mkfo0g00-1x2y3z',
          after_ms: 900_000,
          channels: 'boss',
          message: '[escalation] not acknowledged for 15 min: [alert] 总表 Incomer (l1): active_power_kw = 150, above the limit 100',
          message_zh: '[升级] 告警 15 分钟未确认：[告警] 总表 Incomer (l1)：active_power_kw = 150，超过上限 100',
        },
      },
    ])
    // …and the alert's own history (GET /api/v1/alerts/:id) shows it, in time order after the opening
    const log = new MemoryEventLog()
    const tags = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'main', rule: 'power-high', severity: 'critical' }
    const openedAt = parseInt('mkfo0g00', 36)
    await log.append([
      {
        kind: ALERT_EVENT_KIND,
        ts: openedAt,
        tags: { ...tags, event: 'opened' },
        fields: {
          alert_id: 'mkfo0g00-1x2y3z',
          value: 150,
          message: 'opened',
          message_zh: '告警',
          user: '',
          comment: '',
          rule_kind: 'threshold',
          quantity: 'active_power_kw',
          opened_at: openedAt,
        },
      },
      // the note's synthetic id says it opened later than T0: the escalation 15 min after that opening
      ...recorded.map((e) => ({ ...e, ts: openedAt + 900_000 })),
    ])
    const alert = await loadAlert(log, 'mkfo0g00-1x2y3z')
    expect(alert?.history.map((h) => [h.event, h.comment])).toEqual([
      ['opened', ''],
      ['escalated', 'critical-15m → boss'],
    ])
    expect(alert?.history[1]?.text.zh).toBe('[升级] 告警 15 分钟未确认：[告警] 总表 Incomer (l1)：active_power_kw = 150，超过上限 100')
  })
})

describe('silences in the notifier', () => {
  it('an alert raised under a silence is stored and published but not sent, nor escalated, until its end; other lines are sent', async () => {
    const robot = await robotServer((_r, res) => json(res, { errcode: 0, errmsg: 'ok' }))
    const log = new MemoryEventLog()
    await log.append([
      silenceCreatedEvent({
        id: 's-x-000001',
        enterprise: 'acme',
        site: 'wuhan',
        line: 'l1',
        start: T0 - 60_000,
        end: T0 + 3_600_000,
        reason: '检修 maintenance',
        createdBy: 'li-wei',
        createdAt: T0 - 60_000,
      }),
    ])
    let now = T0
    const book = new SilenceBook(log, () => now)
    await book.refresh()
    const hub = hubOf([{ id: 'duty', kind: 'wecom', url: `${robot.url}/send?key=k` }])
    const escalations: string[] = []
    const stored: StoredEvent[] = []
    const published: string[] = []
    const notifier = new AlertNotifier({
      engine: { nameOf: (a) => a.device },
      events: { add: (e) => stored.push(e) },
      broker: { publishAlert: (_a, n) => published.push(n.alertId) },
      webhooks: { send: (n) => escalations.push(`webhook:${n.alertId}`) },
      channels: hub,
      silences: book,
      escalator: { observe: (n) => escalations.push(`observe:${n.alertId}:${n.event}`) },
      logger,
    })
    const transition = (line: string, id: string, event: AlertTransition['event'], ts: number): AlertTransition => ({
      event,
      ts,
      user: '',
      comment: '',
      text: { zh: `${id} zh`, en: `${id} en` },
      alert: {
        id,
        rule: 'r',
        ruleKind: 'threshold',
        severity: 'critical',
        address: { enterprise: 'acme', site: 'wuhan', line, device: 'main' },
        quantity: 'active_power_kw',
        state: event === 'cleared' ? 'resolved' : 'firing',
        openedAt: T0,
        value: 1,
      },
    })
    notifier.notify(transition('l1', 'quiet-1', 'opened', T0), true)
    notifier.notify(transition('l2', 'loud-1', 'opened', T0), true)
    now = T0 + 2 * 3_600_000
    // After the silence's end, the resolution of an alert opened under it stays quiet as well.
    notifier.notify(transition('l1', 'quiet-1', 'cleared', now), true)
    await hub.idle()
    expect(stored.map((e) => `${e.fields.alert_id}:${e.tags.event}`)).toEqual(['quiet-1:opened', 'loud-1:opened', 'quiet-1:cleared'])
    expect(published).toEqual(['quiet-1', 'loud-1', 'quiet-1'])
    expect(robot.received.map((r) => (r.body as { markdown: { content: string } }).markdown.content.split('\n')[1])).toEqual(['> loud-1 zh'])
    expect(escalations).toEqual(['webhook:loud-1', 'observe:loud-1:opened', 'observe:quiet-1:cleared'])
    expect(notifier.silenced).toBe(2)
  })
})
