import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { createEmbeddedStore, type TelemetryStore } from '../storage/index.ts'
import { APRIL, billModel, billPoints } from '../reports/testing/bill-fixture.ts'
import { DEFAULT_REFERENCE, resolveReference } from '../analytics/index.ts'
import { build } from './app.ts'

/**
 * GET /api/v1/bill on the embedded store holding reports/testing/bill-fixture.ts (March 2026, two
 * accounts on the Hubei two-part 1–10 kV tariff); the figures are worked out in reports/bill.test.ts.
 */
const sha = (key: string) => `sha256$${createHash('sha256').update(key).digest('hex')}`
const ADMIN = { 'x-api-key': 'admin-key' }
const OTHER = { 'x-api-key': 'other-key' }
const auth = {
  apiKeys: [
    { id: 'admin', keyHash: sha('admin-key'), role: 'admin' as const },
    { id: 'other-eng', keyHash: sha('other-key'), role: 'engineer' as const, enterprise: 'other' },
  ],
}

describe('GET /api/v1/bill', () => {
  let dir: string
  let store: TelemetryStore
  let app: FastifyInstance
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-bill-api-'))
    store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
    await store.write(billPoints())
    app = await build({ store, plant: billModel, now: () => APRIL + 86_400_000, config: { auth } })
  }, 120_000)
  afterAll(async () => {
    await app?.close()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers the month of account arc: total 95 866.4325, sliding 1000 kW vs fixed 580 kW', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/bill?account=steel/works/arc&month=2026-03', headers: ADMIN })
    expect(res.statusCode).toBe(200)
    const b = res.json()
    expect(b.totalCost).toBeCloseTo(95_866.4325, 3)
    expect(b.demand.sliding.demandKw).toBeCloseTo(1000, 6)
    expect(b.demand.fixed.demandKw).toBeCloseTo(580, 6)
    expect(b.basicCharge.basisText).toContain('actual-demand')
    expect(b.powerFactor).toMatchObject({ percent: 5, standard: 0.9 })
    expect(b.rows.map((r: { section: string }) => r.section)).toEqual([
      'energy',
      'energy',
      'energy',
      'energy',
      'basic-charge',
      'basic-charge',
      'basic-charge',
      'power-factor',
      'power-factor',
      'total',
      'reading',
      'reading',
    ])
  }, 30_000)

  it('exports the rows as CSV; a 30-minute period slipping 5 minutes is honoured', async () => {
    const csv = await app.inject({ method: 'GET', url: '/api/v1/bill?account=steel/works/arc&month=2026-03&format=csv', headers: ADMIN })
    expect(csv.statusCode).toBe(200)
    expect(csv.headers['content-type']).toContain('text/csv')
    const lines = csv.body.trim().split(/\r?\n/)
    expect(lines[0]).toBe('section,item,quantity,unit,price,amount,basis')
    expect(lines.some((l) => l.startsWith('total,total,'))).toBe(true)
    // [00:05, 00:35) holds the whole melt: (30 × 100 + 15 × 900) / 30 = 550 kW
    const half = await app.inject({ method: 'GET', url: '/api/v1/bill?account=steel/works/arc&month=2026-03&periodMin=30&slipMin=5', headers: ADMIN })
    expect(half.json().demand.sliding.demandKw).toBeCloseTo(550, 6)
  }, 30_000)

  it('coded errors: another tenant 404, unknown account 404, bad month 400, slip not dividing the period 400', async () => {
    const other = await app.inject({ method: 'GET', url: '/api/v1/bill?account=steel/works/arc&month=2026-03', headers: OTHER })
    expect(other.statusCode).toBe(404)
    expect(other.json().error.code).toBe('REPORTS_ERR_SCOPE')
    const unknown = await app.inject({ method: 'GET', url: '/api/v1/bill?account=steel/works/nope&month=2026-03', headers: ADMIN })
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'REPORTS_ERR_SCOPE'])
    const month = await app.inject({ method: 'GET', url: '/api/v1/bill?account=steel/works/arc&month=2026-3', headers: ADMIN })
    expect(month.statusCode).toBe(400)
    const slip = await app.inject({ method: 'GET', url: '/api/v1/bill?account=steel/works/arc&month=2026-03&periodMin=15&slipMin=4', headers: ADMIN })
    expect([slip.statusCode, slip.json().error.code]).toEqual([400, 'REPORTS_ERR_INPUT'])
  }, 30_000)

  it("prices with the config's reference data: an overridden tariff is the one billed and named", async () => {
    // The shipped two-part tariff with every energy price doubled, under the same id (the config's `reference:` replaces it).
    const shipped = DEFAULT_REFERENCE.tariffs.find((t) => t.id === 'hubei-industrial-two-part-1-10kv')
    const doubled = structuredClone(shipped) as Record<string, unknown> & {
      versions: Array<Record<string, unknown> & { pricesPerKwh: Record<string, number> }>
    }
    for (const v of doubled.versions) {
      v.pricesPerKwh = Object.fromEntries(Object.entries(v.pricesPerKwh).map(([k, p]) => [k, p * 2]))
      v.source = 'plant contract (test: prices doubled)'
    }
    const reference = resolveReference({ tariffs: { tariffs: [doubled] } })
    const own = await build({ store, plant: billModel, now: () => APRIL + 86_400_000, config: { auth }, reference })
    try {
      const res = await own.inject({ method: 'GET', url: '/api/v1/bill?account=steel/works/arc&month=2026-03', headers: ADMIN })
      expect(res.statusCode).toBe(200)
      // Energy 49 301.3643 at the shipped prices (reports/bill.test.ts) → 98 602.7286; the basic charge stays 42 000.
      expect(res.json().energyCost).toBeCloseTo(98_602.7286, 3)
      expect(res.json().basicCharge.charge).toBeCloseTo(42_000, 4)
      expect(res.json().tariff.source).toBe('plant contract (test: prices doubled)')
    } finally {
      await own.close()
    }
  }, 30_000)

  it('is in the OpenAPI document', async () => {
    const doc = (await app.inject('/docs/json')).json()
    expect(doc.paths['/api/v1/bill']?.get?.summary).toContain('Bill check')
  })
})
