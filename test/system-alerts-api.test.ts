import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { transitionToEvent } from '../alerts/events.ts'
import { SystemAlerts } from '../alerts/system-alerts.ts'
import { build } from '../api/app.ts'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { openEventLog, type EventLog } from '../storage/events.ts'
import type { TelemetryStore } from '../storage/store.ts'

/**
 * A storage-fault system alert through the real alert routes: listed for every user (enterprise
 * users included: the store is the installation's), its history, and acknowledged by an operator
 * with the system alert's own text. The events are the ones the service writes (SystemAlerts).
 */

const NOW = Date.UTC(2026, 11, 6, 6)
const PLANT = validateConfig(PlantModelSchema, {
  enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'main' }] }] }] }],
})
const KEYS = { admin: 'k-admin', op: 'k-op-acme' }
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`
const state = (body: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ clientId: 'plantwatt-ingest-pc1', connected: true, ...body }))

let dir: string
let store: TelemetryStore
let events: EventLog
let app: FastifyInstance
let id = ''

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-system-alerts-api-'))
  const path = join(dir, 'plantwatt.db')
  store = createEmbeddedStore({ path })
  events = await openEventLog({ backend: 'embedded', path })
  const book = new SystemAlerts({ now: () => NOW - 60_000 })
  const [opened] = book.receive(
    'pw/sys/ingest/plantwatt-ingest-pc1',
    state({ storeError: { code: 'STORAGE_ERR_FULL', message: 'SQLITE_FULL: database or disk is full', since: NOW - 120_000 } }),
  )
  if (!opened) throw new Error('no alert opened')
  id = opened.alert.id
  await events.append([transitionToEvent(opened)])
  app = await build({
    store,
    plant: PLANT,
    events,
    now: () => NOW,
    config: {
      auth: {
        apiKeys: [
          { id: 'admin', keyHash: sha(KEYS.admin), role: 'admin' },
          { id: 'li-wei', keyHash: sha(KEYS.op), role: 'operator', enterprise: 'acme' },
        ],
        users: [],
        tokenTtlS: 3600,
      },
    },
  })
})

afterAll(async () => {
  await app?.close()
  await events?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

const get = (url: string, key: string) => app.inject({ method: 'GET', url, headers: { 'x-api-key': key } })

describe('storage-fault alerts in the API', () => {
  it('are listed for the admin and for an enterprise operator, with kind, code and both texts', async () => {
    for (const key of [KEYS.admin, KEYS.op]) {
      const res = await get('/api/v1/alerts', key)
      expect(res.statusCode).toBe(200)
      expect(res.json().rows).toEqual([
        expect.objectContaining({
          id,
          state: 'firing',
          enterprise: 'system',
          site: 'storage',
          line: 'ingest',
          device: 'plantwatt-ingest-pc1',
          rule: 'storage-fault',
          ruleKind: 'storage-fault',
          severity: 'critical',
          quantity: 'STORAGE_ERR_FULL',
          value: 1, // minutes since the fault began, when it was raised
          openedAt: NOW - 120_000,
        }),
      ])
      expect(res.json().rows[0].message).toContain('storage fault STORAGE_ERR_FULL (disk full)')
      expect(res.json().rows[0].messageZh).toContain('存储故障 STORAGE_ERR_FULL（磁盘已满）')
    }
    // Asked for their own enterprise only, the operator gets its alerts without the system's.
    expect((await get('/api/v1/alerts?enterprise=acme', KEYS.op)).json().rows).toEqual([])
  })

  it('an operator acknowledges it; the event carries the system alert text', async () => {
    expect((await get(`/api/v1/alerts/${id}`, KEYS.op)).statusCode).toBe(200)
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/ack`,
      headers: { 'x-api-key': KEYS.op, 'content-type': 'application/json' },
      payload: JSON.stringify({ comment: 'clearing old logs' }),
    })
    expect(res.statusCode).toBe(200)
    expect(res.json().alert).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'li-wei', ruleKind: 'storage-fault' })
    const history = (await get(`/api/v1/alerts/${id}`, KEYS.admin)).json().rows as { event: string; message: string; messageZh: string }[]
    expect(history.map((h) => h.event)).toEqual(['opened', 'acknowledged'])
    expect(history[1]?.message).toBe(
      '[acknowledged] plantwatt-ingest-pc1 (ingest): storage fault STORAGE_ERR_FULL (disk full): ingest plantwatt-ingest-pc1 stopped acknowledging; the broker and the edge buffers hold the data, by li-wei — clearing old logs',
    )
    expect(history[1]?.messageZh).toContain('确认人 li-wei')
  })
})
