import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build } from '../api/app.ts'
import { validateConfig } from '../core/config.ts'
import { MINUTE_MS } from '../core/duration.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { openEventLog, type EventLog } from '../storage/events.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { transitionToEvent } from '../alerts/events.ts'
import { SILENCE_KIND, SilenceBook } from '../alerts/silences.ts'
import type { AlertTransition } from '../alerts/engine.ts'

/**
 * Silences through the real app (API keys, tenant scope, the error catalogue) on an embedded event
 * log: created, listed and deleted by the roles that may, refused with coded errors otherwise, shown
 * on the alert list, and read back by the alert service's SilenceBook from the same log.
 */

/** 2026-01-15 10:00 Asia/Shanghai: the API clock. */
const NOW = Date.UTC(2026, 0, 15, 2, 0)
const MIN = MINUTE_MS
const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  enterprises: [
    {
      id: 'acme',
      sites: [
        {
          id: 'wuhan',
          lines: [
            { id: 'l1', devices: [{ id: 'main' }, { id: 'pump' }] },
            { id: 'l2', devices: [{ id: 'fan' }] },
          ],
        },
      ],
    },
    { id: 'other', sites: [{ id: 'xy', lines: [{ id: 'l9', devices: [{ id: 'fan' }] }] }] },
  ],
})
const KEYS = { admin: 'k-admin', op: 'k-op-acme', opOther: 'k-op-other', commission: 'k-comm', eng: 'k-eng-acme' }
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`

let dir: string
let store: TelemetryStore
let events: EventLog
let app: FastifyInstance
let now = NOW

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-silences-'))
  const path = join(dir, 'plantwatt.db')
  store = createEmbeddedStore({ path })
  events = await openEventLog({ backend: 'embedded', path })
  app = await build({
    store,
    plant: PLANT,
    events,
    now: () => now,
    config: {
      auth: {
        apiKeys: [
          { id: 'admin', keyHash: sha(KEYS.admin), role: 'admin' },
          { id: 'li-wei', keyHash: sha(KEYS.op), role: 'operator', enterprise: 'acme' },
          { id: 'zhao', keyHash: sha(KEYS.opOther), role: 'operator', enterprise: 'other' },
          { id: 'nea', keyHash: sha(KEYS.commission), role: 'commission' },
          { id: 'wang', keyHash: sha(KEYS.eng), role: 'engineer', enterprise: 'acme' },
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

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, key: string, body?: unknown) =>
  app.inject({
    method,
    url,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  })

describe('silences API', () => {
  const ids: Record<string, string> = {}

  it('an operator silences a line of their enterprise for a duration; an engineer a device from a local start to an end; both are stored in the event log', async () => {
    const line = await call('POST', '/api/v1/silences', KEYS.op, {
      enterprise: 'acme',
      site: 'wuhan',
      line: 'l1',
      durationMinutes: 120,
      reason: '检修 replacing the incomer CT',
    })
    expect(line.statusCode).toBe(201)
    const s = line.json().silence
    expect(s).toMatchObject({
      state: 'active',
      enterprise: 'acme',
      site: 'wuhan',
      line: 'l1',
      device: null,
      start: NOW,
      end: NOW + 120 * MIN,
      reason: '检修 replacing the incomer CT',
      createdBy: 'li-wei',
      createdAt: NOW,
      deletedAt: null,
    })
    expect(s.id).toMatch(/^s-[0-9a-z]+-[0-9a-f]{6}$/)
    ids.line = s.id

    const dev = await call('POST', '/api/v1/silences', KEYS.eng, {
      enterprise: 'acme',
      site: 'wuhan',
      line: 'l2',
      device: 'fan',
      start: '2026-01-15T12:00',
      end: '2026-01-15T14:00',
      reason: 'trial run',
    })
    expect(dev.statusCode).toBe(201)
    expect(dev.json().silence).toMatchObject({ state: 'scheduled', device: 'fan', start: NOW + 120 * MIN, end: NOW + 240 * MIN, createdBy: 'wang' })
    ids.dev = dev.json().silence.id

    const other = await call('POST', '/api/v1/silences', KEYS.opOther, { enterprise: 'other', durationMinutes: 30, reason: 'shutdown' })
    expect(other.statusCode).toBe(201)
    ids.other = other.json().silence.id

    const stored = await events.query({ kind: SILENCE_KIND })
    expect(stored.map((e) => `${e.tags.silence}:${e.tags.event}`).sort()).toEqual([`${ids.line}:created`, `${ids.dev}:created`, `${ids.other}:created`].sort())
  })

  it('lists by enterprise scope: an operator sees only theirs, the commission all; filtered by state', async () => {
    const own = (await call('GET', '/api/v1/silences', KEYS.op)).json().rows as { id: string }[]
    expect(own.map((r) => r.id)).toEqual([ids.dev, ids.line]) // newest start first
    const all = (await call('GET', '/api/v1/silences', KEYS.commission)).json().rows as { id: string }[]
    expect(all.map((r) => r.id).sort()).toEqual([ids.dev, ids.line, ids.other].sort())
    const scheduled = (await call('GET', '/api/v1/silences?state=scheduled', KEYS.admin)).json().rows as { id: string }[]
    expect(scheduled.map((r) => r.id)).toEqual([ids.dev])
    expect((await call('GET', '/api/v1/silences?enterprise=other', KEYS.op)).statusCode).toBe(404)
  })

  it('refuses with coded errors: the commission may not write, another enterprise is unknown, a bad scope or window is a 400', async () => {
    const body = { enterprise: 'acme', durationMinutes: 10, reason: 'x' }
    const forbidden = await call('POST', '/api/v1/silences', KEYS.commission, body)
    expect(forbidden.statusCode).toBe(403)
    expect(forbidden.json().error.code).toBe('API_ERR_FORBIDDEN')
    expect((await call('POST', '/api/v1/silences', KEYS.opOther, body)).json().error.code).toBe('API_ERR_NOT_FOUND')
    const cases: [unknown, number, string][] = [
      [{ enterprise: 'acme', site: 'wuhan', line: 'nope', durationMinutes: 10, reason: 'x' }, 404, 'API_ERR_NOT_FOUND'],
      [{ enterprise: 'acme', line: 'l1', durationMinutes: 10, reason: 'x' }, 400, 'API_ERR_VALIDATION'],
      [{ enterprise: 'acme', reason: 'x' }, 400, 'API_ERR_VALIDATION'],
      [{ enterprise: 'acme', durationMinutes: 10, end: '2026-01-15T11:00', reason: 'x' }, 400, 'API_ERR_VALIDATION'],
      [{ enterprise: 'acme', durationMinutes: 10, reason: '' }, 400, 'API_ERR_VALIDATION'],
      [{ enterprise: 'acme', durationMinutes: 10, reason: 'x', extra: 1 }, 400, 'API_ERR_VALIDATION'],
      [{ enterprise: 'acme', start: '2026-01-15T08:00', end: '2026-01-15T09:00', reason: 'x' }, 400, 'API_ERR_RANGE'],
      [{ enterprise: 'acme', start: '2026-01-15T12:00', end: '2026-01-15T11:00', reason: 'x' }, 400, 'API_ERR_RANGE'],
      [{ enterprise: 'acme', start: '2026-01-15T12:00', end: '2026-03-15T11:00', reason: 'x' }, 400, 'API_ERR_RANGE'],
    ]
    for (const [b, status, code] of cases) {
      const res = await call('POST', '/api/v1/silences', KEYS.op, b)
      expect([JSON.stringify(b), res.statusCode, res.json().error?.code]).toEqual([JSON.stringify(b), status, code])
    }
  })

  it('marks alerts raised under a silence on the alert list; the alert service reads the same silences', async () => {
    const t = (device: string, line: string, ts: number): AlertTransition => ({
      event: 'opened',
      ts,
      user: '',
      comment: '',
      text: { zh: 'zh', en: 'en' },
      alert: {
        id: `${ts.toString(36)}-${device}`,
        rule: 'r',
        ruleKind: 'threshold',
        severity: 'warning',
        address: { enterprise: 'acme', site: 'wuhan', line, device },
        quantity: 'active_power_kw',
        state: 'firing',
        openedAt: ts,
        value: 1,
      },
    })
    await events.append([t('main', 'l1', NOW + 5 * MIN), t('fan', 'l2', NOW + 5 * MIN), t('main', 'l1', NOW - 5 * MIN)].map(transitionToEvent))
    now = NOW + 10 * MIN
    const rows = (await call('GET', '/api/v1/alerts', KEYS.op)).json().rows as { line: string; openedAt: number; silenceId: string | null }[]
    expect(rows.map((r) => [r.line, r.openedAt - NOW, r.silenceId]).sort((a, b) => String(a).localeCompare(String(b)))).toEqual([
      ['l1', -5 * MIN, null], // before the silence
      ['l1', 5 * MIN, ids.line],
      ['l2', 5 * MIN, null], // its silence starts at 12:00
    ])
    const book = new SilenceBook(events, () => now)
    await book.refresh()
    expect(book.silenceOf({ enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'pump' }, now)?.id).toBe(ids.line)
    expect(book.silenceOf({ enterprise: 'acme', site: 'wuhan', line: 'l2', device: 'fan' }, now)).toBeUndefined()
    expect(book.silenceOf({ enterprise: 'acme', site: 'wuhan', line: 'l2', device: 'fan' }, NOW + 130 * MIN)?.id).toBe(ids.dev)
  })

  it('deletes (ends) a silence once: 409 after, 404 for another enterprise or an unknown id; deleted silences no longer silence', async () => {
    expect((await call('DELETE', `/api/v1/silences/${ids.line}`, KEYS.opOther)).statusCode).toBe(404)
    expect((await call('DELETE', '/api/v1/silences/s-zzzz-000000', KEYS.op)).statusCode).toBe(404)
    expect((await call('DELETE', '/api/v1/silences/bad', KEYS.op)).json().error.code).toBe('API_ERR_VALIDATION')
    const del = await call('DELETE', `/api/v1/silences/${ids.line}`, KEYS.eng)
    expect(del.statusCode).toBe(200)
    expect(del.json().silence).toMatchObject({ id: ids.line, state: 'deleted', deletedAt: now, deletedBy: 'wang' })
    const again = await call('DELETE', `/api/v1/silences/${ids.line}`, KEYS.op)
    expect(again.statusCode).toBe(409)
    expect(again.json().error.code).toBe('API_ERR_CONFLICT')
    const book = new SilenceBook(events, () => now + MIN)
    await book.refresh()
    expect(book.silenceOf({ enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'main' }, now + MIN)).toBeUndefined()
    // The alert raised while it was in force stays marked.
    const rows = (await call('GET', '/api/v1/alerts?line=l1', KEYS.op)).json().rows as { silenceId: string | null }[]
    expect(rows.map((r) => r.silenceId)).toEqual([ids.line, null])
  })

  it('documents the routes in OpenAPI', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> }
    const paths = Object.keys(doc.paths)
    expect(paths).toContain('/api/v1/silences')
    expect(Object.keys(doc.paths['/api/v1/silences'] ?? {}).sort()).toEqual(['get', 'post'])
    expect(Object.keys(doc.paths['/api/v1/silences/{id}'] ?? {})).toEqual(['delete'])
  })
})
