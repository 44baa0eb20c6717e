import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build } from '../api/app.ts'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { openEventLog, type EventLog } from '../storage/events.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { AlertEngine, type AlertTransition } from '../alerts/engine.ts'
import { transitionToEvent } from '../alerts/events.ts'
import { validateAlertsConfig } from '../alerts/rules.ts'
import { MINUTE_MS } from '../core/duration.ts'

/**
 * The alert routes through the real app (auth with API keys, tenant scope, the error catalogue),
 * reading and writing an embedded event log: alerts are produced by the engine as the service would.
 */

/** 2026-01-15 10:00 Asia/Shanghai: the API clock. */
const NOW = Date.UTC(2026, 0, 15, 2, 0)
const MIN = MINUTE_MS
const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  enterprises: [
    { id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'main', name: '总表 Incomer' }, { id: 'pump' }] }] }] },
    { id: 'other', sites: [{ id: 'xy', lines: [{ id: 'l9', devices: [{ id: 'fan' }] }] }] },
  ],
})
const KEYS = { admin: 'k-admin', op: 'k-op-acme', opOther: 'k-op-other', commission: 'k-comm', eng: 'k-eng-acme' }
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`

let dir: string
let store: TelemetryStore
let events: EventLog
let app: FastifyInstance
const ids: Record<string, string> = {}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-alerts-api-'))
  const path = join(dir, 'plantwatt.db')
  store = createEmbeddedStore({ path })
  events = await openEventLog({ backend: 'embedded', path })
  // Three alerts made by the engine: acme pump (warning, firing), acme main (critical, resolved), other fan (warning, firing).
  const engine = new AlertEngine({
    plant: PLANT,
    rules: validateAlertsConfig({
      rules: [
        { id: 'power-high', kind: 'threshold', quantity: 'active_power_kw', above: 100, for: '0', clearAfter: '0' },
        { id: 'pf-low', kind: 'power_factor', below: 0.9, for: '0', clearAfter: '0', severity: 'critical' },
      ],
    }).rules,
  })
  const out: AlertTransition[] = []
  const a = (line: string, device: string, enterprise = 'acme', site = 'wuhan') => ({ enterprise, site, line, device })
  out.push(...engine.ingest(a('l1', 'pump'), { ts: NOW - 60 * MIN, values: { active_power_kw: 150, power_factor: 0.95 } }))
  out.push(...engine.ingest(a('l1', 'main'), { ts: NOW - 50 * MIN, values: { active_power_kw: 50, power_factor: 0.8 } }))
  out.push(...engine.ingest(a('l1', 'main'), { ts: NOW - 40 * MIN, values: { active_power_kw: 50, power_factor: 0.95 } }))
  out.push(...engine.ingest(a('l9', 'fan', 'other', 'xy'), { ts: NOW - 30 * MIN, values: { active_power_kw: 130, power_factor: 0.95 } }))
  await events.append(out.map(transitionToEvent))
  for (const t of out) if (t.event === 'opened') ids[t.alert.address.device] = t.alert.id
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

const get = (url: string, key: string) => app.inject({ method: 'GET', url, headers: { 'x-api-key': key } })
const post = (url: string, key: string, body?: unknown) =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  })

describe('GET /api/v1/alerts', () => {
  it('lists alerts newest first as flat rows, filtered by state, severity, scope and time', async () => {
    const all = await get('/api/v1/alerts', KEYS.admin)
    expect(all.statusCode).toBe(200)
    const rows = all.json().rows as Record<string, unknown>[]
    expect(rows.map((r) => [r.device, r.rule, r.state])).toEqual([
      ['fan', 'power-high', 'firing'],
      ['main', 'pf-low', 'resolved'],
      ['pump', 'power-high', 'firing'],
    ])
    expect(rows[1]).toMatchObject({
      enterprise: 'acme',
      severity: 'critical',
      value: 0.95,
      threshold: 0.9,
      openedAt: NOW - 50 * MIN,
      resolvedAt: NOW - 40 * MIN,
      resolvedBy: '',
      acknowledgedAt: null,
    })
    expect(rows[2]?.messageZh).toBe('[告警] pump (l1)：active_power_kw = 150，超过上限 100')
    for (const r of rows) for (const v of Object.values(r)) expect(['string', 'number', 'boolean'].includes(typeof v) || v === null).toBe(true)

    const firing = (await get('/api/v1/alerts?state=firing', KEYS.admin)).json().rows as { device: string }[]
    expect(firing.map((r) => r.device)).toEqual(['fan', 'pump'])
    expect(((await get('/api/v1/alerts?severity=critical', KEYS.admin)).json().rows as unknown[]).length).toBe(1)
    expect(((await get('/api/v1/alerts?enterprise=acme&line=l1&device=pump', KEYS.admin)).json().rows as { id: string }[]).map((r) => r.id)).toEqual([ids.pump])
    // from/to bound the opening time: 10:15–10:30 local holds only main (opened 09:10 is outside) — none; 09:05–09:15 holds main.
    const window = (await get('/api/v1/alerts?from=2026-01-15T09:05&to=2026-01-15T09:15', KEYS.admin)).json().rows as { device: string }[]
    expect(window.map((r) => r.device)).toEqual(['main'])
    const csv = await app.inject({ method: 'GET', url: '/api/v1/alerts?format=csv', headers: { 'x-api-key': KEYS.admin } })
    expect(csv.statusCode).toBe(200)
    expect(csv.body.split('\n')[0]).toContain('id,state,enterprise,site,line,device,rule')
  })

  it('keeps an enterprise user to their enterprise; another enterprise answers as unknown', async () => {
    const own = (await get('/api/v1/alerts', KEYS.op)).json().rows as { enterprise: string }[]
    expect(own.map((r) => r.enterprise)).toEqual(['acme', 'acme'])
    expect((await get('/api/v1/alerts?enterprise=other', KEYS.op)).statusCode).toBe(404)
    expect((await get(`/api/v1/alerts/${ids.fan}`, KEYS.op)).statusCode).toBe(404)
    // The commission reads every enterprise.
    expect(((await get('/api/v1/alerts', KEYS.commission)).json().rows as unknown[]).length).toBe(3)
  })

  it('rejects bad filters with a coded 400', async () => {
    const bad = await get('/api/v1/alerts?state=open', KEYS.admin)
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.code).toBe('API_ERR_VALIDATION')
    const range = await get('/api/v1/alerts?from=2026-01-15T10:00&to=2026-01-15T09:00', KEYS.admin)
    expect(range.json().error.code).toBe('API_ERR_RANGE')
  })
})

describe('GET /alerts/{id}, POST ack and resolve', () => {
  it('acknowledges once with user and comment; a second ack is 409 and changes nothing; resolve; then 409', async () => {
    const id = ids.pump as string
    const ack = await post(`/api/v1/alerts/${id}/ack`, KEYS.op, { comment: '检查压缩机 checking' })
    expect(ack.statusCode).toBe(200)
    expect(ack.json().alert).toMatchObject({ id, state: 'acknowledged', acknowledgedBy: 'li-wei', acknowledgedAt: NOW, comment: '检查压缩机 checking' })

    const again = await post(`/api/v1/alerts/${id}/ack`, KEYS.eng, { comment: 'me too' })
    expect(again.statusCode).toBe(409)
    expect(again.json().error).toMatchObject({ code: 'API_ERR_CONFLICT' })
    expect(again.json().error.message).toContain('already acknowledged by li-wei')

    const resolved = await post(`/api/v1/alerts/${id}/resolve`, KEYS.eng, { comment: 'valve closed' })
    expect(resolved.json().alert).toMatchObject({ state: 'resolved', resolvedBy: 'wang' })
    const late = await post(`/api/v1/alerts/${id}/ack`, KEYS.op)
    expect(late.statusCode).toBe(409)
    expect((await post(`/api/v1/alerts/${id}/resolve`, KEYS.op)).statusCode).toBe(409)

    const one = await get(`/api/v1/alerts/${id}`, KEYS.op)
    expect(one.statusCode).toBe(200)
    expect(one.json().alert.state).toBe('resolved')
    expect((one.json().rows as { event: string; user: string; comment: string }[]).map((r) => [r.event, r.user, r.comment])).toEqual([
      ['opened', '', ''],
      ['acknowledged', 'li-wei', '检查压缩机 checking'],
      ['cleared', 'wang', 'valve closed'],
    ])
    // Nothing else was written by the refused requests: exactly 3 events for this alert.
    expect(await events.query({ kind: 'alert_event', fields: { alert_id: id } })).toHaveLength(3)
  })

  it('404 for an unknown or malformed id; 403 for the commission; 404 across enterprises', async () => {
    const unknown = await post('/api/v1/alerts/zzzzzz-1/ack', KEYS.admin)
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().error.code).toBe('API_ERR_NOT_FOUND')
    expect((await get('/api/v1/alerts/not_an_id', KEYS.admin)).statusCode).toBe(400)
    const comm = await post(`/api/v1/alerts/${ids.fan}/ack`, KEYS.commission)
    expect(comm.statusCode).toBe(403)
    expect((await post(`/api/v1/alerts/${ids.fan}/ack`, KEYS.op)).statusCode).toBe(404)
    const theirs = await post(`/api/v1/alerts/${ids.fan}/ack`, KEYS.opOther, { comment: 'ok' })
    expect(theirs.json().alert).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'zhao' })
  })
})
