import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALERT_EVENT_KIND } from '../alerts/events.ts'
import { build } from '../api/app.ts'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { MemoryEventLog } from '../storage/events.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryStore } from '../storage/store.ts'

/** POST /api/v1/alerts/replay through the real app: body validation, tenant scope, coded errors, write only when asked. */
const PLANT = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    { id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'meter', kind: 'meter' }] }] }] },
    { id: 'other', sites: [{ id: 'x', lines: [{ id: 'l', devices: [{ id: 'm', kind: 'meter' }] }] }] },
  ],
})
const KEY = 'k-admin-0123456789abcdef'
const OP = 'k-op-other-0123456789abcdef'
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`
const T0 = Date.UTC(2026, 0, 4, 16)
const Q = 900_000
const DAY = 86_400_000
let dir: string
let store: TelemetryStore
let app: FastifyInstance
const events = new MemoryEventLog()

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-replay-api-'))
  store = createEmbeddedStore({ path: join(dir, 'p.db') })
  const points = []
  // Three weeks of a day shift, then a week in which 08:00–14:00 of day 24 is missing.
  for (let t = T0; t < T0 + 28 * DAY; t += Q) {
    if (t >= T0 + 24 * DAY && t < T0 + 24 * DAY + 6 * 3_600_000) continue
    const hour = new Date(t + 8 * 3_600_000).getUTCHours()
    points.push({
      measurement: 'telemetry',
      tags: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' },
      fields: { active_power_kw: hour >= 8 && hour < 17 ? 300 + (t % 7) : 15 },
      ts: t,
    })
  }
  await store.write(points)
  app = await build({
    store,
    plant: PLANT,
    events,
    config: {
      auth: {
        apiKeys: [
          { id: 'admin', keyHash: sha(KEY), role: 'admin' },
          { id: 'op', keyHash: sha(OP), role: 'operator', enterprise: 'other' },
        ],
        users: [],
        tokenTtlS: 3600,
      },
    },
  })
})
afterAll(async () => {
  await app?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

const post = (body: unknown, key = KEY) =>
  app.inject({ method: 'POST', url: '/api/v1/alerts/replay', headers: { 'x-api-key': key, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
const from = new Date(T0 + 21 * DAY).toISOString()
const to = new Date(T0 + 28 * DAY).toISOString()
const rules = [
  { id: 'offline', kind: 'offline' },
  { id: 'anomaly', kind: 'anomaly', history: '3w' },
]

describe('POST /api/v1/alerts/replay', () => {
  it('answers the alerts that would have fired, per-rule counts and alerts per device-week; writes nothing unless asked', async () => {
    const res = await post({ from, to, rules })
    expect(res.statusCode).toBe(200)
    const r = res.json()
    expect(r.devices).toBe(1)
    expect(r.byRule.offline).toEqual({ kind: 'offline', alerts: 1, devices: 1 })
    expect(r.alerts.find((a: { rule: string }) => a.rule === 'offline')).toMatchObject({ device: 'meter', ruleKind: 'offline' })
    expect(r.alertsPerDeviceWeek).toBeCloseTo(r.alerts.length / r.deviceWeeks, 10)
    expect(await events.query({ kind: ALERT_EVENT_KIND })).toEqual([])
    const written = (await post({ from, to, rules, write: true })).json()
    expect(written.written).toBeGreaterThan(0)
    expect((await events.query({ kind: ALERT_EVENT_KIND })).length).toBe(written.written)
  })

  it('coded errors: no data (404), no history to learn (409), a backwards range (400), bad rules (400); an operator sees only their enterprise', async () => {
    expect((await post({ from: '2027-01-01T00:00:00+08:00', to: '2027-01-02T00:00:00+08:00', rules })).json().error.code).toBe('API_ERR_NOT_FOUND')
    const early = await post({ from: new Date(T0 + 3 * 3_600_000).toISOString(), to: new Date(T0 + DAY).toISOString(), rules })
    expect([early.statusCode, early.json().error.code]).toEqual([409, 'API_ERR_CONFLICT'])
    expect(early.json().error.message).toMatch(/acme\/wuhan\/l1\/meter/)
    expect((await post({ from: to, to: from, rules })).json().error.code).toBe('API_ERR_RANGE')
    expect((await post({ from, to, rules: [{ id: 'x', kind: 'nonsense' }] })).statusCode).toBe(400)
    // The operator of another enterprise: no data of theirs in the store.
    expect((await post({ from, to, rules }, OP)).json().error.code).toBe('API_ERR_NOT_FOUND')
  })
})
