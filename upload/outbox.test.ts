import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Indicator } from './indicators.ts'
import { Outbox } from './outbox.ts'
import { plan, workOf } from './schedule.ts'

const NOV = Date.UTC(2026, 9, 31, 16) // 2026-11-01 00:00 +08:00
const D = 86_400_000
const day = (i: number, value: number): Indicator => ({
  indicator: 'energy',
  subject: 'boundary',
  carrier: 'electricity',
  period: 'day',
  start: NOV + i * D,
  end: NOV + (i + 1) * D,
  value,
  unit: 'kWh',
  basis: 'test',
})

describe('the outbox', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-outbox-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('queues new periods at revision 0, skips unchanged ones, queues a changed one as the next revision, and keeps it all across a reopen', () => {
    const path = join(dir, 'outbox.sqlite')
    let box = new Outbox(path)
    expect(box.enqueue([day(0, 96), day(1, 96)], 1000)).toEqual({ queued: 2, revised: 0, unchanged: 0 })
    expect(box.enqueue([day(0, 96), day(1, 97)], 2000)).toEqual({ queued: 0, revised: 1, unchanged: 1 })
    const due = box.due(2000, 10)
    expect(due.map((e) => [e.record.start - NOV, e.record.revision, e.record.value])).toEqual([
      [0, 0, 96],
      [D, 0, 96],
      [D, 1, 97],
    ])
    box.acked([due[0]?.id ?? 0], 'r1', 3000)
    box.retryAt([due[1]?.id ?? 0], 9000, 'no answer')
    box.rejected(due[2]?.id ?? 0, '400 PROVINCE_ERR_INVALID: /records/0/value')
    box.setMark('day', NOV + 2 * D)
    box.close()
    box = new Outbox(path)
    expect(box.counts()).toEqual({ pending: 1, acked: 1, rejected: 1 })
    expect(box.due(5000, 10)).toEqual([]) // backing off until 9000
    expect(box.due(9000, 10).map((e) => [e.attempts, e.lastError])).toEqual([[1, 'no answer']])
    expect(box.list('rejected', 5).map((e) => e.lastError)).toEqual(['400 PROVINCE_ERR_INVALID: /records/0/value'])
    expect(box.getMark('day')).toBe(NOV + 2 * D)
    box.close()
  })
})

describe('the schedule', () => {
  const tz = 'Asia/Shanghai'
  it('cuts closed periods into provider calls: quarters by local day, months one at a time', () => {
    const q = workOf('15m', NOV + 6 * 3_600_000 + 60_000, NOV + 2 * D + 3_600_000 + 1, tz)
    expect(q.map((w) => [(w.range.start - NOV) / 3_600_000, (w.range.end - NOV) / 3_600_000])).toEqual([
      [6, 24],
      [24, 48],
      [48, 49],
    ])
    const DEC = NOV + 30 * D
    const JAN = DEC + 31 * D
    expect(workOf('month', NOV + D, JAN + 5 * D, tz).map((w) => [w.range.start, w.range.end])).toEqual([
      [NOV, DEC],
      [DEC, JAN],
    ])
  })

  it('takes up from the marks after an outage, and goes back recheckDays once an hour', () => {
    const now = NOV + 10 * D + 120_000
    const o = { timezone: tz, settleMs: 120_000, backfillDays: 35, recheckDays: 2 }
    const marks = { '15m': NOV + 7 * D, day: NOV + 7 * D, month: NOV }
    const calm = plan(now, marks, false, o)
    expect(calm.filter((w) => w.kind === 'day').map((w) => [(w.range.start - NOV) / D, (w.range.end - NOV) / D])).toEqual([[7, 10]])
    expect(calm.filter((w) => w.kind === '15m')).toHaveLength(3)
    const recheck = plan(now + 3 * D, { '15m': now + 3 * D - 120_000, day: now + 3 * D - 120_000, month: NOV }, true, o)
    expect(recheck.filter((w) => w.kind === 'day').map((w) => [(w.range.start - NOV) / D, (w.range.end - NOV) / D])).toEqual([[11, 13]])
  })
})
