import { describe, expect, it } from 'vitest'
import { PlantWattError } from '../core/errors.ts'
import { foldAlertEvents, transitionToEvent } from './events.ts'
import { ingestAlertAddress, parseIngestState, SystemAlerts } from './system-alerts.ts'

const TOPIC = 'pw/sys/ingest/plantwatt-ingest-pc1'
const T0 = Date.UTC(2026, 11, 6, 6)
const state = (body: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ ts: T0, clientId: 'plantwatt-ingest-pc1', ...body }))
const full = { code: 'STORAGE_ERR_FULL', message: 'SQLITE_FULL: database or disk is full', at: T0, since: T0 - 120_000 }

describe('SystemAlerts: storage-fault alerts from ingest state', () => {
  it('opens on a store error (code, reason in both languages, subject the ingest instance), repeats nothing, clears when writes succeed', () => {
    let now = T0
    const book = new SystemAlerts({ now: () => now })
    expect(book.receive(TOPIC, state({ connected: true, received: 5 }))).toEqual([])
    const [opened, ...rest] = book.receive(TOPIC, state({ connected: true, storeError: full }))
    expect(rest).toEqual([])
    expect(opened?.event).toBe('opened')
    expect(opened?.ts).toBe(T0 - 120_000) // when the fault began, by ingest
    expect(opened?.alert).toMatchObject({
      rule: 'storage-fault',
      ruleKind: 'storage-fault',
      severity: 'critical',
      quantity: 'STORAGE_ERR_FULL',
      state: 'firing',
      address: { enterprise: 'system', site: 'storage', line: 'ingest', device: 'plantwatt-ingest-pc1' },
      value: 2, // minutes since the fault began
    })
    expect(opened?.text.en).toBe(
      '[alert] plantwatt-ingest-pc1 (ingest): storage fault STORAGE_ERR_FULL (disk full): ingest plantwatt-ingest-pc1 stopped acknowledging; the broker and the edge buffers hold the data (the store says: SQLITE_FULL: database or disk is full)',
    )
    expect(opened?.text.zh).toContain('存储故障 STORAGE_ERR_FULL（磁盘已满）')
    expect(opened?.text.zh).toContain('（存储报告：SQLITE_FULL: database or disk is full）')
    now += 10_000
    expect(book.receive(TOPIC, state({ connected: true, storeError: full }))).toEqual([])
    // The will (connected: false) says nothing about the store: the alert stays.
    expect(book.receive(TOPIC, state({ connected: false }))).toEqual([])
    expect(book.openAlerts()).toHaveLength(1)
    now = T0 + 240_000
    const [cleared] = book.receive(TOPIC, state({ connected: true, received: 9 }))
    expect(cleared).toMatchObject({ event: 'cleared', ts: T0 + 240_000, user: '', alert: { state: 'resolved', value: 6, id: opened?.alert.id } })
    expect(cleared?.text.en).toBe(
      '[resolved] plantwatt-ingest-pc1 (ingest): the store accepts writes again (STORAGE_ERR_FULL), ingest acknowledges again; the fault lasted 6.0 min',
    )
    expect(book.openAlerts()).toEqual([])
    expect(book.states).toBe(5)
  })

  it('a different fault while one lasts closes it and opens another; bad messages are counted, never thrown', () => {
    const book = new SystemAlerts({ now: () => T0 })
    book.receive(TOPIC, state({ storeError: full }))
    const [closed, opened] = book.receive(TOPIC, state({ storeError: { code: 'STORAGE_ERR_CORRUPT', message: 'SQLITE_CORRUPT', since: T0 } }))
    expect(closed?.event).toBe('cleared')
    expect(opened?.alert.quantity).toBe('STORAGE_ERR_CORRUPT')
    expect(opened?.text.en).toContain('database or WAL corrupt')
    expect(book.receive(TOPIC, Buffer.from('{not json'))).toEqual([])
    expect(book.receive(TOPIC, state({ storeError: { message: 'no code' } }))).toEqual([])
    expect(book.badStates).toBe(2)
    expect(parseIngestState('pw/v1/a/b/c/d/data', state({}))).toBeUndefined()
  })

  it('acknowledged and resolved by hand like any alert; restored from its events (the fold keeps its kind)', () => {
    const book = new SystemAlerts({ now: () => T0 })
    const [opened] = book.receive(TOPIC, state({ storeError: full }))
    const id = opened?.alert.id ?? ''
    expect(book.has(id)).toBe(true)
    const ack = book.acknowledge(id, { user: 'op1', comment: 'freeing space', ts: T0 + 1 })
    expect(ack.text.en).toContain('[acknowledged] plantwatt-ingest-pc1 (ingest): storage fault STORAGE_ERR_FULL (disk full)')
    expect(ack.text.en).toContain('by op1 — freeing space')
    expect(() => book.acknowledge(id, { user: 'op1', ts: T0 + 2 })).toThrow(PlantWattError)

    // Restart: rebuilt from the event log, still open, cleared by the next state without the error.
    const records = foldAlertEvents([transitionToEvent(opened ?? ack), transitionToEvent(ack)])
    expect(records[0]).toMatchObject({ ruleKind: 'storage-fault', state: 'acknowledged', quantity: 'STORAGE_ERR_FULL' })
    const again = new SystemAlerts({ now: () => T0 + 60_000 })
    again.restore(records)
    expect(again.openAlerts().map((a) => a.id)).toEqual([id])
    expect(again.receive(TOPIC, state({ storeError: full }))).toEqual([])
    const resolved = again.resolve(id, { user: 'op2', ts: T0 + 60_000 })
    expect(resolved.text.en).toBe('[resolved] plantwatt-ingest-pc1 (ingest): resolved by op2')
    expect(() => again.resolve(id, { user: 'op2', ts: T0 + 60_001 })).toThrow(expect.objectContaining({ code: 'ALERTS_ERR_NOT_FOUND' }))
  })

  it('applies an acknowledgement and a resolution appended by the API, once; ignores other alerts', () => {
    const book = new SystemAlerts({ now: () => T0 })
    const [opened] = book.receive(TOPIC, state({ storeError: full }))
    const alertId = opened?.alert.id ?? ''
    expect(book.applyExternal({ alertId: 'x-1', event: 'acknowledged', ts: T0, user: 'op', comment: '' })).toBeUndefined()
    expect(book.applyExternal({ alertId, event: 'acknowledged', ts: T0 + 1, user: 'op', comment: 'on it' })?.alert.state).toBe('acknowledged')
    expect(book.applyExternal({ alertId, event: 'acknowledged', ts: T0 + 2, user: 'op', comment: '' })).toBeUndefined()
    expect(book.applyExternal({ alertId, event: 'cleared', ts: T0 + 3, user: 'op', comment: '' })?.alert).toMatchObject({ state: 'resolved', resolvedBy: 'op' })
    expect(book.has(alertId)).toBe(false)
    // Still failing: the next state opens a new alert.
    const [again] = book.receive(TOPIC, state({ storeError: full }))
    expect(again?.event).toBe('opened')
    expect(again?.alert.id).not.toBe(alertId) // opened now, not at the fault's start: another alert
    expect(again?.alert.openedAt).toBe(T0)
  })

  it('the subject is an id the topics and the API accept', () => {
    expect(ingestAlertAddress('Ingest/Partition 1').device).toBe('ingest-partition-1')
    expect(ingestAlertAddress('--').device).toBe('ingest')
  })
})
