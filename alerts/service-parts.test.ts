import pino from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { encodePayload } from '../core/payload.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { eventIdentity, type EventQuery, type StoredEvent } from '../storage/events.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { BaselineLearner } from './baseline-learner.ts'
import { AlertEngine, type AlertTransition } from './engine.ts'
import { EventWriter } from './event-writer.ts'
import { ExternalEvents, type ExternalAlertEvent } from './external-events.ts'
import { AlertNotifier } from './notifier.ts'
import { transitionToEvent, type AlertNotification } from './events.ts'
import { restoreLastSeen, restoreOpenAlerts } from './restore.ts'
import { validateAlertsConfig } from './rules.ts'
import { TelemetryFeed } from './telemetry-feed.ts'

/** The parts startAlertService wires (alerts/service.ts), each alone; the service itself: test/alerts-service.test.ts. */

const logger = silentLogger()
const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'main', name: 'Incomer' }, { id: 'pump' }] }] }] }],
})
const MAIN = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'main' }
const T0 = Date.UTC(2026, 0, 15, 2, 0)
const engineWith = (rules: unknown[]) => new AlertEngine({ plant: PLANT, rules: validateAlertsConfig({ rules }).rules })
const THRESHOLD = [{ id: 'power-high', kind: 'threshold', quantity: 'active_power_kw', above: 100, for: '0', clearAfter: '0' }]

/** A transition made by the engine: the main meter above 100 kW. */
function opened(): { engine: AlertEngine; t: AlertTransition } {
  const engine = engineWith(THRESHOLD)
  const [t] = engine.ingest(MAIN, { ts: T0, values: { active_power_kw: 150 } })
  if (!t) throw new Error('no transition')
  return { engine, t }
}

describe('TelemetryFeed', () => {
  it('hands the samples of a data message to the engine oldest first, and counts what it cannot read', () => {
    const ingest = vi.fn((_address: unknown, _sample: { ts: number }) => [] as AlertTransition[])
    const told: AlertTransition[][] = []
    const feed = new TelemetryFeed({ ingest }, (list) => told.push(list), logger)
    const payload = encodePayload({
      seq: 1,
      samples: [
        { ts: T0 + 1000, values: { active_power_kw: 1 } },
        { ts: T0, values: { active_power_kw: 2 } },
      ],
    })
    feed.receive('pw/v1/acme/wuhan/l1/main/data', Buffer.from(payload))
    expect(ingest.mock.calls.map(([address, s]) => [address, s.ts])).toEqual([
      [MAIN, T0],
      [MAIN, T0 + 1000],
    ])
    expect(told).toHaveLength(2)
    feed.receive('pw/v1/acme/wuhan/l1/main/state', Buffer.from('{}'))
    feed.receive('pw/v1/acme/wuhan/l1/main/data', Buffer.from('not json'))
    feed.receive('not/a/topic', Buffer.from(payload))
    expect({ samples: feed.samples, badMessages: feed.badMessages }).toEqual({ samples: 2, badMessages: 2 })
  })
})

describe('AlertNotifier', () => {
  it('stores, publishes, queues for the webhooks and calls onEvent; a throwing onEvent is only logged', () => {
    const { engine, t } = opened()
    const stored: StoredEvent[] = []
    const published: [unknown, AlertNotification][] = []
    const sent: AlertNotification[] = []
    const notifier = new AlertNotifier({
      engine,
      events: { add: (e) => stored.push(e) },
      broker: { publishAlert: (address, n) => published.push([address, n]) },
      webhooks: { send: (n) => sent.push(n) },
      onEvent: () => {
        throw new Error('listener broke')
      },
      logger,
    })
    const n = notifier.notify(t, true)
    expect(n).toMatchObject({ type: 'alert', event: 'opened', rule: 'power-high', device: 'main' })
    expect(stored).toEqual([transitionToEvent(t)])
    expect(published).toEqual([[MAIN, n]])
    expect(sent).toEqual([n])
    notifier.notify(t, false) // read from the log: not stored again
    expect(stored).toHaveLength(1)
    expect(notifier.transitions).toBe(2)
  })
})

describe('EventWriter', () => {
  it('appends in order, one batch at a time, and knows its own events', async () => {
    const batches: StoredEvent[][] = []
    const writer = new EventWriter({ append: async (b) => void batches.push([...b]) }, logger)
    const { t } = opened()
    const e1 = transitionToEvent(t)
    const e2 = { ...e1, ts: e1.ts + 1 }
    writer.add(e1)
    writer.add(e2) // queued behind the first append
    await writer.drain()
    expect(batches).toEqual([[e1], [e2]])
    expect(writer.isOwn(eventIdentity(e2))).toBe(true)
    expect(writer.isOwn(eventIdentity({ ...e1, ts: 0 }))).toBe(false)
    expect(writer.pendingCount).toBe(0)
  })

  it('retries a failing append with backoff and counts each failure; nothing is lost', async () => {
    let failuresLeft = 2
    const appended: StoredEvent[] = []
    const writer = new EventWriter(
      {
        append: async (b) => {
          if (failuresLeft-- > 0) throw new Error('disk full')
          appended.push(...b)
        },
      },
      logger,
      { firstDelayMs: 1, maxDelayMs: 2 },
    )
    writer.add(transitionToEvent(opened().t))
    await writer.drain()
    expect(appended).toHaveLength(1)
    expect(writer.failures).toBe(2)
  })
})

describe('ExternalEvents', () => {
  it('applies each acknowledgement from the log once, skips its own, and re-learns on a baseline revision', async () => {
    const { t } = opened()
    const ack: StoredEvent = {
      ...transitionToEvent(t),
      ts: T0 + 5,
      tags: { ...transitionToEvent(t).tags, event: 'acknowledged' },
      fields: { ...transitionToEvent(t).fields, user: 'li' },
    }
    const own: StoredEvent = { ...ack, ts: T0 + 6 }
    const log: StoredEvent[] = [ack, own]
    const queries: EventQuery[] = []
    const applied: ExternalAlertEvent[] = []
    const relearn = vi.fn(async () => {})
    const external = new ExternalEvents({
      events: {
        query: async (q) => {
          queries.push(q)
          return log.filter((e) => e.kind === q.kind && e.ts >= (q.start ?? 0))
        },
      },
      startedAt: T0,
      now: () => T0 + 10,
      isOwn: (id) => id === eventIdentity(own),
      apply: (e) => applied.push(e),
      onBaselineRevision: relearn,
      logger,
    })
    await external.poll()
    await external.poll()
    expect(applied).toEqual([{ alertId: t.alert.id, event: 'acknowledged', ts: T0 + 5, user: 'li', comment: '' }])
    expect(queries[0]).toMatchObject({ kind: 'alert_event', start: T0 - 120_000 })
    expect(relearn).not.toHaveBeenCalled()
    log.push({ kind: 'baseline_revision', ts: T0 + 8, tags: MAIN, fields: {} })
    await external.poll()
    await external.poll() // the revision cursor moved past it
    expect(relearn).toHaveBeenCalledTimes(1)
  })
})

describe('restore', () => {
  it('rebuilds open alerts from the log; a log that cannot be read is ALERTS_ERR_RESTORE', async () => {
    const { t } = opened()
    const engine = engineWith(THRESHOLD)
    const log = { query: async () => [transitionToEvent(t)] } as unknown as Parameters<typeof restoreOpenAlerts>[1]
    await restoreOpenAlerts(engine, log, { start: 0, stop: T0 + 1 }, logger)
    expect(engine.openAlerts().map((a) => a.id)).toEqual([t.alert.id])
    const broken = { query: async () => Promise.reject(new Error('locked')) } as unknown as Parameters<typeof restoreOpenAlerts>[1]
    await expect(restoreOpenAlerts(engine, broken, { start: 0, stop: 1 }, logger)).rejects.toMatchObject({ code: 'ALERTS_ERR_RESTORE' })
  })

  it('takes each device newest point as last seen; a store that cannot be read is only logged', async () => {
    const seen = vi.fn()
    const store = {
      latest: async () => [
        { tags: MAIN, ts: T0 },
        { tags: { device: 'x' }, ts: T0 },
      ],
    } as unknown as TelemetryStore
    await restoreLastSeen({ seen }, store, 0, logger)
    // This store cannot read raw samples: no interval, the engine learns it from the next samples.
    expect(seen.mock.calls).toEqual([[MAIN, T0, []]])
    await restoreLastSeen({ seen }, { latest: async () => Promise.reject(new Error('gone')) } as unknown as TelemetryStore, 0, logger)
  })
})

describe('BaselineLearner', () => {
  it('learns only with anomaly or standby rules, keeps the previous baselines when learning fails', async () => {
    const store = {} as TelemetryStore
    const none = new BaselineLearner({
      engine: engineWith(THRESHOLD),
      store,
      plant: PLANT,
      rules: validateAlertsConfig({ rules: THRESHOLD }).rules,
      now: () => T0,
      logger,
      learn: vi.fn(),
    })
    await none.relearn()
    expect(none.learnedAt).toBeNull()

    const rules = validateAlertsConfig({ rules: [{ id: 'odd', kind: 'anomaly', relearnEvery: '1h' }] }).rules
    const engine = new AlertEngine({ plant: PLANT, rules })
    let fail = false
    const book = engine.baselineBook
    const learn = vi.fn(async () => {
      if (fail) throw new Error('store down')
      return book
    })
    const lines: string[] = []
    const captured = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) })
    const learner = new BaselineLearner({ engine, store, plant: PLANT, rules, now: () => T0, logger: captured, learn })
    await learner.relearn()
    expect(learner.learnedAt).toBe(T0)
    expect(lines).toEqual([])
    // A warning of the learning (a year the holiday calendar does not know) goes to the log.
    book.warnings = ['calendar: chinese-days has no public holidays for 2027 yet']
    await learner.relearn()
    expect(lines.map((l) => (JSON.parse(l) as { msg: string; level: number }).msg)).toEqual(['calendar: chinese-days has no public holidays for 2027 yet'])
    delete book.warnings
    fail = true
    await learner.relearn()
    expect(learner.learnedAt).toBe(T0)
    expect(learn).toHaveBeenCalledTimes(3)
    vi.useFakeTimers()
    try {
      learner.start()
      await vi.advanceTimersByTimeAsync(3_600_000)
      expect(learn).toHaveBeenCalledTimes(4)
      learner.stop()
      await vi.advanceTimersByTimeAsync(3_600_000)
      expect(learn).toHaveBeenCalledTimes(4)
    } finally {
      vi.useRealTimers()
    }
  })
})
