import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import type { Indicator } from '../../upload/indicators.ts'
import { Outbox } from '../../upload/outbox.ts'
import { UploadsBook } from '../../upload/status.ts'
import { build } from '../app.ts'

/** GET /uploads on the real API (fastify inject) over two real outboxes (SQLite) of two enterprises. */

const KEYS = { admin: 'admin-key-0123456789', acme: 'acme-engineer-key-01', beta: 'beta-engineer-key-01' }
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`
const NOV = Date.UTC(2026, 9, 31, 16)
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

let dir: string
let store: TelemetryStore
let app: FastifyInstance
let noUploads: FastifyInstance
const boxes: Outbox[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-uploads-api-'))
  store = createEmbeddedStore({ path: ':memory:' })
  const book = new UploadsBook()
  const acme = new Outbox(join(dir, 'acme.sqlite'))
  const beta = new Outbox(join(dir, 'beta.sqlite'))
  boxes.push(acme, beta)
  acme.enqueue([day(0, 96), day(1, 97), day(2, 98)], 1000)
  const due = acme.due(1000, 10)
  acme.acked([due[0]?.id ?? 0], 'receipt-0001', 2000)
  acme.rejected(due[1]?.id ?? 0, '400 PROVINCE_ERR_INVALID: /records/0/value')
  beta.enqueue([day(0, 5)], 1000)
  book.register('acme', acme)
  book.register('beta', beta)
  const auth = {
    apiKeys: [
      { id: 'admin', keyHash: sha(KEYS.admin), role: 'admin' as const },
      { id: 'li', keyHash: sha(KEYS.acme), role: 'engineer' as const, enterprise: 'acme' },
      { id: 'zhao', keyHash: sha(KEYS.beta), role: 'engineer' as const, enterprise: 'beta' },
    ],
    users: [],
    tokenTtlS: 3600,
  }
  app = await build({ store, config: { auth }, uploads: book })
  noUploads = await build({ store, config: { auth } })
})
afterAll(async () => {
  await app?.close()
  await noUploads?.close()
  for (const b of boxes) b.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

const get = (a: FastifyInstance, url: string, key: string) => a.inject({ url: `/api/v1/${url}`, headers: { 'x-api-key': key } })

describe('GET /uploads', () => {
  it('lists per enterprise what was acknowledged (with the receipt), what waits and what the province refused and why', async () => {
    const res = await get(app, 'uploads', KEYS.admin)
    expect(res.statusCode).toBe(200)
    const { enterprises } = res.json() as {
      enterprises: {
        enterprise: string
        counts: Record<string, number>
        rejected: { value: number; reason: string }[]
        pending: { value: number }[]
        uploaded: { value: number; receipt: string }[]
      }[]
    }
    expect(enterprises.map((e) => e.enterprise)).toEqual(['acme', 'beta'])
    const acme = enterprises[0]
    expect(acme?.counts).toEqual({ acked: 1, pending: 1, rejected: 1 })
    expect(acme?.uploaded.map((r) => [r.value, r.receipt])).toEqual([[96, 'receipt-0001']])
    expect(acme?.rejected.map((r) => [r.value, r.reason])).toEqual([[97, '400 PROVINCE_ERR_INVALID: /records/0/value']])
    expect(acme?.pending.map((r) => r.value)).toEqual([98])
    expect(enterprises[1]?.counts).toEqual({ acked: 0, pending: 1, rejected: 0 })
  })

  it("an enterprise's user sees only its own uploads; another's is 404", async () => {
    const own = await get(app, 'uploads', KEYS.beta)
    expect((own.json() as { enterprises: { enterprise: string }[] }).enterprises.map((e) => e.enterprise)).toEqual(['beta'])
    const other = await get(app, 'uploads?enterprise=acme', KEYS.beta)
    expect(other.statusCode).toBe(404)
    expect((other.json() as { error: { code: string } }).error.code).toBe('API_ERR_NOT_FOUND')
  })

  it('answers 503 when no uploader runs in the process, and refuses a bad limit', async () => {
    const none = await get(noUploads, 'uploads', KEYS.admin)
    expect(none.statusCode).toBe(503)
    expect((none.json() as { error: { code: string } }).error.code).toBe('API_ERR_UNAVAILABLE')
    expect((await get(app, 'uploads?limit=0', KEYS.admin)).statusCode).toBe(400)
  })
})
