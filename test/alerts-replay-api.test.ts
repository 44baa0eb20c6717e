import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALERT_EVENT_KIND } from '../alerts/events.ts'
import { RECOMMENDED_RULES } from '../alerts/rules.ts'
import { build } from '../api/app.ts'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
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
const COMMISSION = 'k-commission-0123456789abcdef'
const ENGINEER = 'k-engineer-acme-0123456789abcdef'
/** The alerts.rules of the config file, as `plantwatt up` hands them to the alert service and the API. */
const CONFIGURED = [
  { id: 'site-offline', kind: 'offline' },
  { id: 'site-anomaly', kind: 'anomaly', history: '3w', k: 6 },
]
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`
const T0 = Date.UTC(2026, 0, 4, 16)
const Q = 900_000
const DAY = 86_400_000
let dir: string
let store: TelemetryStore
let app: FastifyInstance
let configured: FastifyInstance
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
          { id: 'commission', keyHash: sha(COMMISSION), role: 'commission' },
          { id: 'eng', keyHash: sha(ENGINEER), role: 'engineer', enterprise: 'acme' },
        ],
        users: [],
        tokenTtlS: 3600,
      },
    },
  })
  configured = await build({ store, plant: PLANT, events: new MemoryEventLog(), alertRules: CONFIGURED })
})
afterAll(async () => {
  await app?.close()
  await configured?.close()
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
    const empty = await post({ from: '2027-01-01T00:00:00+08:00', to: '2027-01-02T00:00:00+08:00', rules })
    // The API's code and status, the replay's own code in details.code: a client tells no data from an unknown scope.
    expect([empty.statusCode, empty.json().error]).toEqual([
      404,
      {
        code: 'API_ERR_NOT_FOUND',
        message: 'no telemetry between 2027-01-01 00:00 and 2027-01-02 00:00 (Asia/Shanghai)',
        details: { code: 'ALERTS_ERR_NO_DATA' },
      },
    ])
    const unknown = await post({ from, to, rules, device: 'nope' })
    expect([unknown.statusCode, unknown.json().error.code, unknown.json().error.details]).toEqual([
      404,
      'API_ERR_NOT_FOUND',
      { code: 'ALERTS_ERR_SCOPE', field: 'device', value: 'nope' },
    ])
    expect(unknown.json().error.message).toMatch(
      /^device: "nope" is not a device of the plant model, and the store has no telemetry of it between 2026-01-26 00:00/,
    )
    const line = await post({ from, to, rules, site: 'wuhan', line: 'l9' })
    expect([line.statusCode, line.json().error.details]).toEqual([404, { code: 'ALERTS_ERR_SCOPE', field: 'line', value: 'l9' }])
    const learnLate = await post({ from, to, rules, learnUntil: to })
    expect([learnLate.statusCode, learnLate.json().error.code, learnLate.json().error.details]).toEqual([
      400,
      'API_ERR_RANGE',
      { code: 'ALERTS_ERR_RANGE', field: 'learnUntil' },
    ])
    expect(learnLate.json().error.message).toBe(
      'learnUntil (2026-02-02 00:00) must not be after from (2026-01-26 00:00; Asia/Shanghai): the baselines would learn the replayed data',
    )
    const earlyRange = { from: new Date(T0 + 3 * 3_600_000).toISOString(), to: new Date(T0 + DAY).toISOString() }
    const early = await post({ ...earlyRange, rules: [{ id: 'anomaly', kind: 'anomaly', history: '3w' }] })
    expect([early.statusCode, early.json().error.code, early.json().error.details.code]).toEqual([409, 'API_ERR_CONFLICT', 'ALERTS_ERR_HISTORY'])
    expect(early.json().error.details.problems).toEqual([
      { code: 'ALERTS_ERR_HISTORY', device: 'acme/wuhan/l1/meter', message: expect.stringMatching(/: anomaly silent on it; no other rule matches it$/) },
    ])
    expect(early.json().error.message).toMatch(/acme\/wuhan\/l1\/meter/)
    // With a rule that needs no history beside it: the answer, the device's problem naming what ran.
    const partly = await post({ ...earlyRange, rules })
    expect(partly.statusCode).toBe(200)
    expect(partly.json().problems).toEqual([
      { code: 'ALERTS_ERR_HISTORY', device: 'acme/wuhan/l1/meter', message: expect.stringMatching(/: anomaly silent on it; offline still ran$/) },
    ])
    expect((await post({ from: to, to: from, rules })).json().error.code).toBe('API_ERR_RANGE')
    expect((await post({ from, to, rules: [{ id: 'x', kind: 'nonsense' }] })).statusCode).toBe(400)
    // The operator of another enterprise: no data of theirs in the store.
    expect((await post({ from, to, rules }, OP)).json().error).toMatchObject({ code: 'API_ERR_NOT_FOUND', details: { code: 'ALERTS_ERR_NO_DATA' } })
  })

  it('runs the configured rules (alerts.rules, as the alert service), the recommended set when none is configured, and says which', async () => {
    const inject = (a: FastifyInstance, body: unknown) =>
      a.inject({ method: 'POST', url: '/api/v1/alerts/replay', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
    const fromConfig = (await inject(configured, { from, to })).json()
    expect(fromConfig.rulesBasis).toBe('configured')
    expect(Object.keys(fromConfig.byRule)).toEqual(['site-offline', 'site-anomaly'])
    expect(fromConfig.byRule['site-offline']).toEqual({ kind: 'offline', alerts: 1, devices: 1 })
    // The request's rules still win (an engineer trying a change).
    const tried = (await inject(configured, { from, to, rules: [{ id: 'try-offline', kind: 'offline', missed: 3 }] })).json()
    expect([tried.rulesBasis, Object.keys(tried.byRule)]).toEqual(['request', ['try-offline']])
    // No rules configured: the recommended set.
    const recommended = (await post({ from, to })).json()
    expect(recommended.rulesBasis).toBe('recommended')
    expect(Object.keys(recommended.byRule)).toEqual(RECOMMENDED_RULES.map((r) => r.id))
    expect(recommended.timezone).toBe('Asia/Shanghai')
    expect(recommended.valueBasis).toBe('opened')
    // The 00:00–06:00 hole of day 24 (local): the limit is 5 missed 15-minute intervals = 75 min; it opened at
    // the first 1-minute step past it, 76 min after the last sample (value and limit as it opened, not as it closed).
    const offline = fromConfig.alerts.find((a: { rule: string }) => a.rule === 'site-offline')
    expect(offline).toMatchObject({ value: 76, valueUnit: 'min', threshold: 75, thresholdUnit: 'min' })
    // A rule the schema refuses: 400 with the field named, nothing run.
    const bad = await inject(configured, { from, to, rules: [{ id: 'x', kind: 'nonsense' }] })
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'API_ERR_VALIDATION'])
    expect(bad.json().error.message).toMatch(/rules\.0\.kind/)
    const unknownKey = await inject(configured, { from, to, rules: [{ id: 'x', kind: 'offline', k: 3 }] })
    expect([unknownKey.statusCode, unknownKey.json().error.code]).toEqual([400, 'API_ERR_VALIDATION'])
  })

  it('write: true only for a role that may write alert events: the commission (writes nothing) gets 403, an engineer writes', async () => {
    const before = (await events.query({ kind: ALERT_EVENT_KIND })).length
    const refused = await post({ from, to, rules, write: true }, COMMISSION)
    expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'API_ERR_FORBIDDEN'])
    expect(refused.json().error.message).toMatch(/^write: role commission may not write alerts to the event log \(needs operator or engineer or admin\)/)
    expect((await events.query({ kind: ALERT_EVENT_KIND })).length).toBe(before)
    // The commission may still replay without writing.
    const read = await post({ from, to, rules }, COMMISSION)
    expect([read.statusCode, read.json().written]).toEqual([200, 0])
    // (Another rule id than the first test's: the same transitions are the same events, stored once.)
    const written = (await post({ from, to, rules: [{ id: 'eng-offline', kind: 'offline' }], write: true }, ENGINEER)).json()
    expect(written.written).toBeGreaterThan(0)
    expect((await events.query({ kind: ALERT_EVENT_KIND })).length).toBe(before + written.written)
  })

  it('reads the recorded meter events: a recorded replacement raises no counter alert, as in the CLI and live', async () => {
    const own = mkdtempSync(join(tmpdir(), 'pw-replay-api-'))
    const s = createEmbeddedStore({ path: join(own, 'p.db') })
    const log = createEmbeddedEventLog({ path: join(own, 'p.db') })
    const a = await build({ store: s, plant: PLANT, events: log })
    try {
      // 15-minute readings counting 25 kWh each; the meter is swapped at 12:00 local (the old one reads 2,175 at 11:45, the new one 10).
      const swap = T0 + 12 * 3_600_000
      const points = []
      for (let i = 0; i < 96; i++) {
        const t = T0 + i * Q
        points.push({
          measurement: 'telemetry',
          tags: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' },
          fields: { energy_import_kwh: t < swap ? 1_000 + i * 25 : 10 + (i - 48) * 25 },
          ts: t,
        })
      }
      await s.write(points)
      const replay = async () =>
        (
          await a.inject({
            method: 'POST',
            url: '/api/v1/alerts/replay',
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify({ from: '2026-01-05', to: '2026-01-06', rules: [{ id: 'ctr', kind: 'counter', quantity: 'energy_import_kwh' }] }),
          })
        ).json()
      const before = await replay()
      expect(before.byRule.ctr).toEqual({ kind: 'counter', alerts: 1, devices: 1 })
      expect(before.alerts[0]).toMatchObject({ rule: 'ctr', openedAt: swap, value: 10, threshold: 2_175 })
      const recorded = await a.inject({
        method: 'POST',
        url: '/api/v1/meter-events',
        payload: {
          event: {
            type: 'replacement',
            enterprise: 'acme',
            site: 'wuhan',
            line: 'l1',
            device: 'meter',
            ts: '2026-01-05T12:00:00',
            oldFinalReading: 2_175,
            newStartReading: 10,
          },
          reason: 'meter swapped',
        },
      })
      expect(recorded.statusCode).toBe(201)
      const after = await replay()
      expect([after.byRule.ctr, after.alerts, after.written]).toEqual([{ kind: 'counter', alerts: 0, devices: 0 }, [], 0])
      // Read, not written: no alert event in the log.
      expect(await log.query({ kind: ALERT_EVENT_KIND })).toEqual([])
    } finally {
      await a.close()
      await log.close()
      await s.close()
      rmSync(own, { recursive: true, force: true })
    }
  })

  it('refuses a date that does not exist, naming the field', async () => {
    for (const bad of ['2026-02-30', '2026-13-01']) {
      const res = await post({ from: bad, to, rules })
      expect(res.statusCode, bad).toBe(400)
      expect(res.json().error.message, bad).toMatch(/from/)
    }
  })
})
