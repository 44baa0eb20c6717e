import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { MemoryEventLog, type StoredEvent } from '../storage/events.ts'
import type { Alert, AlertTransition } from '../alerts/engine.ts'
import type { AlertNotification } from '../alerts/events.ts'
import { Escalator, recordedEscalations } from '../alerts/escalation.ts'
import { AlertNotifier } from '../alerts/notifier.ts'
import { createChannels } from '../alerts/notify/config.ts'
import { ChannelHub } from '../alerts/notify/hub.ts'
import { validateAlertsConfig } from '../alerts/rules.ts'
import { SILENCE_KIND, SilenceBook, silenceCreatedEvent, silenceDeletedEvent, type Silence } from '../alerts/silences.ts'
import { robotOk, robotServer, T0 } from './robot-server.ts'

/**
 * An alert opened under a silence is held back while the silence lasts and told — once, saying which
 * silence held it since when — when the silence expires or is deleted, if it is still firing; its
 * escalation clock starts then. The real notifier, SilenceBook, Escalator and channel hub, a local
 * robot server checking the payloads, the event log in memory; then a restart from that log.
 */

const TZ = 'Asia/Shanghai'
const MIN = 60_000
const logger = silentLogger()
let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

const silence = (id: string, line: string, end: number): Silence => ({
  id,
  enterprise: 'acme',
  site: 'wuhan',
  line,
  start: T0 - MIN,
  end,
  reason: '检修',
  createdBy: 'li-wei',
  createdAt: T0 - MIN,
})
const S_A = silence('s-a-00000a', 'l1', T0 + 60 * MIN)
const S_B = silence('s-b-00000b', 'l2', T0 + 600 * MIN)

const alertOf = (id: string, line: string, device: string, openedAt: number, state: Alert['state'] = 'firing'): Alert => ({
  id,
  rule: 'r',
  ruleKind: 'threshold',
  severity: 'critical',
  address: { enterprise: 'acme', site: 'wuhan', line, device },
  quantity: 'active_power_kw',
  state,
  openedAt,
  value: 150,
  threshold: 100,
  expectedHigh: 100,
})
const transition = (a: Alert, event: AlertTransition['event'], ts: number): AlertTransition => ({
  event,
  ts,
  user: event === 'acknowledged' ? 'li-wei' : '',
  comment: '',
  text: { zh: `${a.id} zh`, en: `${a.id} en` },
  alert: { ...a, state: event === 'opened' ? 'firing' : event === 'acknowledged' ? 'acknowledged' : 'resolved' },
})

/** The notifier as the service wires it, over the log; robot texts by key, webhooks by alert id. */
async function session(log: MemoryEventLog, robotUrl: string, now: { t: number }) {
  const { config } = validateAlertsConfig({
    channels: [
      { id: 'duty', kind: 'wecom', url: `${robotUrl}/send?key=duty`, format: 'text' },
      { id: 'boss', kind: 'wecom', url: `${robotUrl}/send?key=boss`, format: 'text', use: 'escalation' },
    ],
    escalation: [{ id: 'e15', minSeverity: 'critical', after: '15m', channels: ['boss'] }],
  })
  const hub = new ChannelHub(createChannels(config.channels, TZ), logger)
  const book = new SilenceBook(log, () => now.t, logger)
  cleanups.push(
    () => hub.close(),
    () => book.stop(),
  )
  await book.refresh()
  const writer = { add: (e: StoredEvent) => void log.append([e]) }
  const escalator = new Escalator({ rules: config.escalation, hub, events: writer, silenced: (n, t) => book.silenceOf(n, t) !== undefined, logger })
  const webhooks: string[] = []
  const notifier = new AlertNotifier({
    engine: { nameOf: (a: DeviceAddress) => a.device },
    events: writer,
    broker: { publishAlert: () => undefined },
    webhooks: { send: (n: AlertNotification) => webhooks.push(`${n.alertId}:${n.event}`) },
    channels: hub,
    silences: book,
    escalator,
    timezone: TZ,
    logger,
  })
  return { hub, book, escalator, notifier, webhooks }
}

/** The wecom text lines a robot received for one key: [alert id, body line] per message. */
const texts = (received: { url: string; body: unknown }[], key: string) =>
  received
    .filter((r) => r.url.endsWith(`key=${key}`))
    .map((r) => (r.body as { text: { content: string } }).text.content.split('\n'))
    .map((lines) => [lines.find((l) => l.startsWith('告警编号: '))?.slice(6), lines[1]])

describe('an alert held back by a silence', () => {
  it('is told once when the silence expires or is deleted, if still firing; escalation waits from then; a restart neither repeats it nor loses one', async () => {
    const robot = await robotServer(robotOk)
    cleanups.push(() => robot.close())
    const log = new MemoryEventLog()
    await log.append([silenceCreatedEvent(S_A), silenceCreatedEvent(S_B)])
    const now = { t: T0 }
    const s1 = await session(log, robot.url, now)
    const held = alertOf('held-1', 'l1', 'main', T0 + 5 * MIN)
    const acked = alertOf('acked-1', 'l1', 'pump', T0 + 5 * MIN)
    const del = alertOf('del-1', 'l2', 'fan', T0 + 5 * MIN)
    s1.notifier.notifyAll([transition(held, 'opened', T0 + 5 * MIN), transition(acked, 'opened', T0 + 5 * MIN), transition(del, 'opened', T0 + 5 * MIN)])
    s1.notifier.notify(transition(acked, 'acknowledged', T0 + 10 * MIN), true)
    expect(s1.notifier.releaseHeld(T0 + 30 * MIN)).toBe(0) // both silences still in force
    expect(s1.escalator.check(T0 + 30 * MIN)).toBe(0) // escalation would have been due at 10:20 from the opening
    expect([s1.notifier.silenced, s1.notifier.heldCount]).toEqual([4, 3])

    // s-a expires at 11:00: held-1 (firing) is told; acked-1 (acknowledged under the silence) is not.
    now.t = T0 + 60 * MIN
    expect(s1.notifier.releaseHeld(now.t)).toBe(1)
    expect(s1.notifier.releaseHeld(now.t + MIN)).toBe(0) // once
    // s-b is deleted at 11:02 in the API: the book's next refresh releases del-1 by itself.
    await log.append([silenceDeletedEvent(S_B, { user: 'wang', ts: T0 + 62 * MIN })])
    now.t = T0 + 62 * MIN
    await s1.book.refresh()
    await s1.hub.idle()
    expect(texts(robot.received, 'duty')).toEqual([
      ['held-1', 'held-1 zh（静默 s-a-00000a 自 2026-01-15 10:05:00 起暂缓通知 55 分钟；静默已结束，告警仍未确认）'],
      ['del-1', 'del-1 zh（静默 s-b-00000b 自 2026-01-15 10:05:00 起暂缓通知 57 分钟；静默已结束，告警仍未确认）'],
    ])
    const first = ((robot.received[0]?.body ?? { text: { content: '' } }) as { text: { content: string } }).text.content.split('\n')
    expect([first[0], first[5]]).toEqual(['[告警] 严重: main (l1)', '时间: 2026-01-15 11:00:00']) // told at the release
    expect(s1.webhooks).toEqual(['held-1:opened', 'del-1:opened'])
    expect(s1.notifier.released).toBe(2)
    const releases = (await log.query({ kind: SILENCE_KIND, filter: { event: 'released' } })).map((e) => [
      e.tags.silence,
      e.fields.alert_id,
      e.fields.held_since,
      e.ts,
    ])
    expect(releases).toEqual([
      ['s-a-00000a', 'held-1', T0 + 5 * MIN, T0 + 60 * MIN],
      ['s-b-00000b', 'del-1', T0 + 5 * MIN, T0 + 62 * MIN],
    ])

    // Escalation: 15 min from each release (11:15, 11:17), not from the opening.
    expect(s1.escalator.check(T0 + 74 * MIN)).toBe(0)
    expect(s1.escalator.check(T0 + 75 * MIN)).toBe(1)
    expect(s1.escalator.check(T0 + 77 * MIN)).toBe(1)
    // After its release an alert's events are told as any other's; acked-1 stays quiet to its end.
    s1.notifier.notify(transition(held, 'cleared', T0 + 80 * MIN), true)
    s1.notifier.notify(transition(acked, 'cleared', T0 + 85 * MIN), true)
    await s1.hub.idle()
    expect(texts(robot.received, 'boss').map(([id]) => id)).toEqual(['held-1', 'del-1'])
    expect(s1.webhooks).toEqual(['held-1:opened', 'del-1:opened', 'held-1:cleared'])
    expect(s1.notifier.heldCount).toBe(0)

    // Restart at 11:30 from the same log: del-1 (released before) is not told again and its escalation is
    // recorded; late-1, opened under s-a at 10:30 and never released (the service was down when it
    // expired), is told at start and escalates 15 min later.
    await s1.book.stop()
    await s1.hub.close()
    const robot2 = await robotServer(robotOk)
    cleanups.push(() => robot2.close())
    now.t = T0 + 90 * MIN
    const s2 = await session(log, robot2.url, now)
    const late = alertOf('late-1', 'l1', 'main2', T0 + 30 * MIN)
    s2.notifier.restore([del, late], await recordedEscalations(log, T0 - 60 * MIN), now.t)
    await s2.hub.idle()
    expect(texts(robot2.received, 'duty')).toEqual([
      // restored from the log: the alert's own text (alerts/text.ts), then what held it
      [
        'late-1',
        '[告警] main2 (l1)：active_power_kw = 150，超过上限 100（静默 s-a-00000a 自 2026-01-15 10:30:00 起暂缓通知 1 小时；静默已结束，告警仍未确认）',
      ],
    ])
    expect(s2.escalator.check(T0 + 104 * MIN)).toBe(0)
    expect(s2.escalator.check(T0 + 105 * MIN)).toBe(1)
    await s2.hub.idle()
    expect(texts(robot2.received, 'boss').map(([id]) => id)).toEqual(['late-1'])
  })

  it('an alert opened before a silence: an escalation falling due under the silence is sent when it ends, if still not acknowledged', async () => {
    const robot = await robotServer(robotOk)
    cleanups.push(() => robot.close())
    const log = new MemoryEventLog()
    const now = { t: T0 }
    const s = await session(log, robot.url, now)
    const early = alertOf('early-1', 'l1', 'main', T0)
    const acked = alertOf('early-2', 'l1', 'pump', T0)
    s.notifier.notifyAll([transition(early, 'opened', T0), transition(acked, 'opened', T0)])
    // Maintenance on l1 from 10:05 to 10:40, created after the alerts opened.
    await log.append([silenceCreatedEvent({ ...S_A, start: T0 + 5 * MIN, end: T0 + 40 * MIN, createdAt: T0 + 4 * MIN })])
    now.t = T0 + 5 * MIN
    await s.book.refresh()
    expect(s.escalator.check(T0 + 15 * MIN)).toBe(0) // due at 10:15, under the silence
    s.notifier.notify(transition(acked, 'acknowledged', T0 + 20 * MIN), true)
    expect(s.escalator.check(T0 + 39 * MIN)).toBe(0)
    expect(s.escalator.check(T0 + 40 * MIN)).toBe(1) // the silence is over: early-1 only
    expect(s.escalator.check(T0 + 60 * MIN)).toBe(0)
    await s.hub.idle()
    expect(texts(robot.received, 'boss').map(([id]) => id)).toEqual(['early-1'])
    const escalations = await log.query({ kind: 'alert_escalation' })
    expect(escalations.map((e) => [e.fields.alert_id, e.ts, e.tags.escalation])).toEqual([['early-1', T0 + 40 * MIN, 'e15']])
  })

  it('without the plant zone the text says only how long it was held, in both languages (webhooks get it too)', async () => {
    const log = new MemoryEventLog()
    await log.append([silenceCreatedEvent(S_A)])
    const book = new SilenceBook(log, () => T0, logger)
    cleanups.push(() => book.stop())
    await book.refresh()
    const sent: AlertNotification[] = []
    const notifier = new AlertNotifier({
      engine: { nameOf: (a: DeviceAddress) => a.device },
      events: { add: () => undefined },
      broker: { publishAlert: () => undefined },
      webhooks: { send: (n: AlertNotification) => sent.push(n) },
      silences: book,
      logger,
    })
    notifier.notify(transition(alertOf('h-2', 'l1', 'main', T0 - 30 * MIN), 'opened', T0), true)
    expect(sent).toEqual([])
    expect(notifier.releaseHeld(T0 + 125 * MIN)).toBe(1)
    expect(sent.map((n) => [n.alertId, n.event, n.state, n.ts, n.openedAt, n.text])).toEqual([
      [
        'h-2',
        'opened',
        'firing',
        T0 + 125 * MIN,
        T0 - 30 * MIN,
        {
          zh: 'h-2 zh（静默 s-a-00000a 暂缓通知 2 小时 35 分钟；静默已结束，告警仍未确认）',
          en: 'h-2 en (held back by silence s-a-00000a for 2 h 35 min; the silence is over and the alert is still not acknowledged)',
        },
      ],
    ])
  })

  it('the book tells its watchers at a silence’s expiry on time, without waiting for a refresh', async () => {
    const log = new MemoryEventLog()
    const t = Date.now()
    await log.append([silenceCreatedEvent({ ...S_A, start: t - MIN, end: t + 500, createdAt: t - MIN })])
    const book = new SilenceBook(log, () => Date.now(), logger)
    cleanups.push(() => book.stop())
    // As the service does it: the book read first, the notifier's watcher registered after.
    await book.refresh()
    const told: boolean[] = []
    book.watch((now) => told.push(book.silenceOf({ enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'main' }, now) !== undefined))
    await new Promise((r) => setTimeout(r, 900))
    expect(told).toEqual([false]) // at its end (no refresh in between), when it no longer covers the device
    await book.refresh()
    expect(told).toEqual([false, false]) // and after every refresh
  })
})
