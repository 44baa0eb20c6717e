import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import type { EventLog, StoredEvent } from './events.ts'

/**
 * The one suite every EventLog backend (memory, embedded, influxdb) runs. Each test gets a fresh,
 * empty log from `factory`; timestamps are fixed instants of 2026.
 */

const T0 = Date.UTC(2026, 0, 15, 2, 0, 0)
const MIN = 60_000
const SCOPE = { enterprise: 'e1', site: 's1', line: 'l1' }

function ev(ts: number, device: string, event: string, fields: Record<string, string | number | boolean> = {}, kind = 'alert_event'): StoredEvent {
  return {
    kind,
    ts,
    tags: { ...SCOPE, device, rule: 'power-high', severity: 'warning', event },
    fields: { value: 410.5, threshold: 380, alert_id: `a-${device}`, message: 'power above limit', user: '', ...fields },
  }
}

export interface EventLogUnderTest {
  log: EventLog
  cleanup(): Promise<void>
}

export function describeEventLogContract(name: string, factory: () => Promise<EventLogUnderTest>): void {
  describe(`EventLog contract: ${name}`, () => {
    let sut: EventLogUnderTest
    let log: EventLog

    beforeEach(async () => {
      sut = await factory()
      log = sut.log
    })
    afterEach(async () => {
      await sut.log.close()
      await sut.cleanup()
    })

    it('names its backend and returns what was appended, text, numbers and booleans intact', async () => {
      expect(log.backend).toBe(name)
      const e = ev(T0, 'd1', 'opened', { message: '功率超限 power above limit, "quoted", comma, = sign\nsecond line', acked: false })
      await log.append([e])
      const got = await log.query({ kind: 'alert_event' })
      expect(got).toEqual([e])
      expect(got[0]?.fields.value).toBe(410.5)
      expect(got[0]?.fields.acked).toBe(false)
    })

    it('is idempotent by (kind, tags, ts): appending again replaces, other events stay apart', async () => {
      await log.append([ev(T0, 'd1', 'opened')])
      await log.append([ev(T0, 'd1', 'opened', { value: 420 })])
      // Same ts, other tag value: a different event.
      await log.append([ev(T0, 'd1', 'acknowledged', { user: 'li.wei' })])
      const got = await log.query({ kind: 'alert_event' })
      expect(got.map((e) => [e.tags.event, e.fields.value, e.fields.user])).toEqual(
        expect.arrayContaining([
          ['opened', 420, ''],
          ['acknowledged', 410.5, 'li.wei'],
        ]),
      )
      expect(got).toHaveLength(2)
    })

    it('filters by kind, time range [start, stop), tags (value or list) and field values; orders and limits', async () => {
      await log.append([
        ev(T0, 'd1', 'opened'),
        ev(T0 + 1 * MIN, 'd2', 'opened'),
        ev(T0 + 2 * MIN, 'd1', 'acknowledged', { user: 'wang' }),
        ev(T0 + 3 * MIN, 'd3', 'opened'),
        ev(T0 + 4 * MIN, 'd1', 'cleared'),
        ev(T0 + 5 * MIN, 'd1', 'revised', {}, 'baseline_revision'),
      ])
      const ts = (list: StoredEvent[]): number[] => list.map((e) => (e.ts - T0) / MIN)
      expect(ts(await log.query({ kind: 'alert_event' }))).toEqual([0, 1, 2, 3, 4])
      expect(ts(await log.query({ kind: 'baseline_revision' }))).toEqual([5])
      expect(ts(await log.query({ kind: 'nothing_here' }))).toEqual([])
      // start inclusive, stop exclusive
      expect(ts(await log.query({ kind: 'alert_event', start: T0 + MIN, stop: T0 + 3 * MIN }))).toEqual([1, 2])
      expect(ts(await log.query({ kind: 'alert_event', filter: { device: 'd1' } }))).toEqual([0, 2, 4])
      expect(ts(await log.query({ kind: 'alert_event', filter: { device: ['d2', 'd3'] } }))).toEqual([1, 3])
      expect(ts(await log.query({ kind: 'alert_event', filter: { device: [] } }))).toEqual([])
      expect(ts(await log.query({ kind: 'alert_event', filter: { device: 'd1', event: 'opened' } }))).toEqual([0])
      expect(ts(await log.query({ kind: 'alert_event', fields: { alert_id: 'a-d1' } }))).toEqual([0, 2, 4])
      expect(ts(await log.query({ kind: 'alert_event', fields: { user: 'wang' } }))).toEqual([2])
      expect(ts(await log.query({ kind: 'alert_event', order: 'desc' }))).toEqual([4, 3, 2, 1, 0])
      expect(ts(await log.query({ kind: 'alert_event', order: 'desc', limit: 2 }))).toEqual([4, 3])
      expect(ts(await log.query({ kind: 'alert_event', filter: { device: 'd1' }, limit: 2 }))).toEqual([0, 2])
    })

    it('rejects an invalid batch whole with STORAGE_ERR_INVALID_POINT', async () => {
      const bad: StoredEvent[] = [{ ...ev(T0, 'd1', 'opened') }, { ...ev(T0 + MIN, 'd1', 'opened'), tags: { ...SCOPE, device: '' } }]
      const err = await log.append(bad).catch((e: unknown) => e)
      expect(isPlantWattError(err, 'STORAGE_ERR_INVALID_POINT')).toBe(true)
      for (const e of [
        { ...ev(T0, 'd1', 'opened'), fields: { value: Number.NaN } },
        { ...ev(T0, 'd1', 'opened'), fields: {} },
        { ...ev(T0, 'd1', 'opened'), kind: 'bad\nkind' },
        { ...ev(T0, 'd1', 'opened'), ts: 1.5 },
      ]) {
        expect(isPlantWattError(await log.append([e]).catch((x: unknown) => x), 'STORAGE_ERR_INVALID_POINT')).toBe(true)
      }
      expect(await log.query({ kind: 'alert_event' })).toEqual([])
      expect(await log.query({ kind: 'bad\nkind' }).catch(() => [])).toEqual([])
    })

    it('fails with STORAGE_ERR_CLOSED after close', async () => {
      await log.close()
      const err = await log.append([ev(T0, 'd1', 'opened')]).catch((e: unknown) => e)
      // The memory log is a plain map: closing empties it and it stays usable.
      if (name !== 'memory') expect(isPlantWattError(err, 'STORAGE_ERR_CLOSED')).toBe(true)
    })
  })
}
