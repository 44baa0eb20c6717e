/**
 * The province upload endpoint over real HTTPS, with a CA made here: who may write what, replays,
 * malformed and oversize bodies, and that a refused upload stores nothing.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveProvinceConfig } from '../province/config.ts'
import { MESSAGE_FORMAT, type IndicatorRecord } from '../province/message.ts'
import { UPLOAD_PATH } from '../province/app.ts'
import { startProvince, type ProvinceService } from '../province/server.ts'
import { signRequest } from '../province/signing.ts'
import { Transport } from '../upload/transport.ts'
import { makeTestCa, type TestCa } from './tls-ca.ts'

const NOV = Date.UTC(2026, 9, 31, 16)
const keyPair = () => generateKeyPairSync('ed25519')
const pem = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }).toString()

const record = (i: number, value = 1): IndicatorRecord => ({
  indicator: 'energy',
  subject: 'boundary',
  carrier: 'electricity',
  period: '15m',
  start: NOV + i * 900_000,
  end: NOV + (i + 1) * 900_000,
  revision: 0,
  value,
  unit: 'kWh',
  basis: 'energyReport, boundary meters',
})
const body = (enterprise: string, records: IndicatorRecord[]): Buffer => Buffer.from(JSON.stringify({ format: MESSAGE_FORMAT, enterprise, records }))

describe('the province upload endpoint over HTTPS', () => {
  let dir: string
  let ca: TestCa
  let province: ProvinceService
  const a = keyPair()
  const b = keyPair()
  const stranger = keyPair()

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-province-'))
    ca = makeTestCa(dir)
    const config = resolveProvinceConfig({
      port: 0,
      tls: { certFile: ca.certFile, keyFile: ca.keyFile },
      enterprises: [
        { id: 'acme', name: 'Acme', city: 'wuhan', publicKey: pem(a.publicKey) },
        { id: 'bolt', name: 'Bolt', city: 'xiangyang', publicKey: pem(b.publicKey) },
      ],
    })
    province = await startProvince(config, { storePath: join(dir, 'province.sqlite') })
  })
  afterAll(async () => {
    await province?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const send = (enterprise: string, key: KeyObject, bytes: Buffer) =>
    new Transport({ url: province.url, ca: readFileSync(ca.caFile), enterprise, key, timeoutMs: 5000 }).post(UPLOAD_PATH, bytes)

  it('stores a signed upload and answers a receipt; a retry of the same records is answered as duplicates', async () => {
    expect(province.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const first = await send('acme', a.privateKey, body('acme', [record(0), record(1)]))
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ enterprise: 'acme', stored: 2, duplicates: 0 })
    expect((first.body as { receipt: string }).receipt).toMatch(/^[0-9a-f]{64}$/)
    const retry = await send('acme', a.privateKey, body('acme', [record(0), record(1)]))
    expect(retry.body).toMatchObject({ stored: 0, duplicates: 2 })
    expect(province.store.counts().records).toBe(2)
  })

  it('refuses a key that is not the registered one, and an unregistered enterprise', async () => {
    const wrongKey = await send('acme', stranger.privateKey, body('acme', [record(5)]))
    expect(wrongKey).toMatchObject({ status: 401, body: { error: { code: 'PROVINCE_ERR_AUTH' } } })
    const unknown = await send('nobody', stranger.privateKey, body('nobody', [record(5)]))
    expect(unknown).toMatchObject({ status: 401, body: { error: { code: 'PROVINCE_ERR_AUTH', message: 'enterprise nobody is not registered' } } })
  })

  it('refuses a server certificate from a CA the uploader does not trust', async () => {
    const t = new Transport({ url: province.url, ca: readFileSync(ca.rogueCaFile), enterprise: 'acme', key: a.privateKey, timeoutMs: 5000 })
    await expect(t.post(UPLOAD_PATH, body('acme', [record(6)]))).rejects.toThrow(/self-signed|unable to verify|certificate/i)
    t.close()
  })

  it("refuses an enterprise writing another's data, and stores nothing of it", async () => {
    const before = province.store.counts()
    const r = await send('bolt', b.privateKey, body('acme', [record(7)]))
    expect(r).toMatchObject({ status: 403, body: { error: { code: 'PROVINCE_ERR_FORBIDDEN' } } })
    expect(province.store.counts()).toEqual(before)
  })

  it('refuses a replayed request (same nonce, same signature) and a stale timestamp', async () => {
    const bytes = body('acme', [record(8)])
    const headers = { 'content-type': 'application/json', ...signRequest(a.privateKey, 'acme', 'POST', UPLOAD_PATH, bytes) }
    const raw = (h: Record<string, string>): Promise<{ status: number; code: string | undefined }> =>
      new Promise((resolve, reject) => {
        const req = request(new URL(UPLOAD_PATH, province.url), { method: 'POST', headers: h, ca: readFileSync(ca.caFile) }, (res) => {
          let text = ''
          res.on('data', (c: Buffer) => (text += c.toString()))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { error?: { code: string } }).error?.code }))
        })
        req.on('error', reject)
        req.end(bytes)
      })
    expect(await raw(headers)).toEqual({ status: 200, code: undefined })
    expect(await raw(headers)).toEqual({ status: 409, code: 'PROVINCE_ERR_REPLAY' })
    const stale = { 'content-type': 'application/json', ...signRequest(a.privateKey, 'acme', 'POST', UPLOAD_PATH, bytes, Date.now() - 600_000) }
    expect(await raw(stale)).toEqual({ status: 401, code: 'PROVINCE_ERR_AUTH' })
  })

  it('answers malformed, invalid and oversize bodies with coded errors and stores nothing of them', async () => {
    const before = province.store.counts()
    expect(await send('acme', a.privateKey, Buffer.from('{"format": '))).toMatchObject({ status: 400, body: { error: { code: 'PROVINCE_ERR_MALFORMED' } } })
    const bad = JSON.parse(body('acme', [record(9), record(10)]).toString()) as { records: Record<string, unknown>[] }
    if (bad.records[1]) bad.records[1].period = '5m'
    const invalid = await send('acme', a.privateKey, Buffer.from(JSON.stringify(bad)))
    expect(invalid).toMatchObject({ status: 400, body: { error: { code: 'PROVINCE_ERR_INVALID' } } })
    expect(JSON.stringify(invalid.body)).toContain('/records/1/period')
    const huge = body(
      'acme',
      Array.from({ length: 6000 }, (_, i) => ({ ...record(i), basis: 'x'.repeat(150) })),
    )
    expect(huge.length).toBeGreaterThan(1_048_576)
    expect(await send('acme', a.privateKey, huge)).toMatchObject({ status: 413, body: { error: { code: 'PROVINCE_ERR_BODY_TOO_LARGE' } } })
    // the first record is new and valid, the second conflicts with a held revision: neither is stored
    const conflict = await send('acme', a.privateKey, body('acme', [record(11), record(0, 99)]))
    expect(conflict).toMatchObject({ status: 409, body: { error: { code: 'PROVINCE_ERR_REVISION_CONFLICT' } } })
    expect(province.store.counts().records).toBe(before.records)
  })

  it('serves the commission view from the uploads: JSON, CSV, drill-down, the page', async () => {
    const q = '?month=2026-11'
    const ov = (await province.app.inject({ method: 'GET', url: `/api/v1/overview${q}` })).json() as {
      totals: { enterprises: number }
      period: { month: string }
    }
    expect(ov).toMatchObject({ totals: { enterprises: 2 }, period: { month: '2026-11' } })
    const csv = await province.app.inject({ method: 'GET', url: `/api/v1/enterprises${q}&format=csv` })
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8')
    expect(csv.body.split('\r\n')[1]).toMatch(/^acme,Acme,wuhan,/)
    const drill = (await province.app.inject({ method: 'GET', url: `/api/v1/enterprises/acme/indicators${q}&period=15m` })).json() as {
      records: { start: number; value: number }[]
    }
    expect(drill.records.map((r) => [r.start - NOV, r.value])).toEqual([
      [0, 1],
      [900_000, 1],
      [7_200_000, 1],
    ])
    expect((await province.app.inject({ method: 'GET', url: '/api/v1/overview?month=2026-13' })).json()).toMatchObject({
      error: { code: 'PROVINCE_ERR_QUERY' },
    })
    expect((await province.app.inject({ method: 'GET', url: '/' })).body).toContain('<script src="/app.js">')
  })

  it('documents the upload message and the commission routes in OpenAPI', async () => {
    const doc = (await province.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> }
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/v1/cities',
      '/api/v1/enterprises',
      '/api/v1/enterprises/{id}/indicators',
      '/api/v1/overview',
      '/api/v1/quality',
      '/api/v1/uploads',
      '/health',
    ])
    expect(JSON.stringify(doc.paths['/api/v1/uploads'])).toContain(MESSAGE_FORMAT)
  })
})
