import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import { build } from './app.ts'
import { acceptsCsvFirst, toCsv } from './csv.ts'

const NOW = Date.UTC(2025, 10, 29, 4, 0, 0)

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    {
      id: 'acme',
      sites: [
        {
          id: 'wuhan',
          lines: [
            {
              id: 'l1',
              mainMeter: 'meter',
              devices: [
                { id: 'meter', name: '进线总表, "主"', kind: 'meter' },
                { id: 'press', name: '=HYPERLINK("x")', kind: 'machine' },
              ],
            },
          ],
        },
      ],
    },
  ],
})

describe('toCsv', () => {
  it('quotes per RFC 4180, unions the keys in first-seen order, and starts with a UTF-8 BOM', () => {
    const text = toCsv([
      { a: 1, b: 'plain' },
      { b: 'with, comma', c: true },
      { a: null, b: 'say "hi"', d: 'two\nlines' },
      { a: 2.5, b: '中文' },
    ])
    expect(text).toBe('\uFEFFa,b,c,d\r\n1,plain,,\r\n,"with, comma",true,\r\n,"say ""hi""",,"two\nlines"\r\n2.5,中文,,\r\n')
    // What a CSV reader makes of it is what went in.
    expect(parse(text, { bom: true, columns: true })).toEqual([
      { a: '1', b: 'plain', c: '', d: '' },
      { a: '', b: 'with, comma', c: 'true', d: '' },
      { a: '', b: 'say "hi"', c: '', d: 'two\nlines' },
      { a: '2.5', b: '中文', c: '', d: '' },
    ])
  })

  it('defuses text a spreadsheet would run as a formula, but not negative numbers', () => {
    expect(toCsv([{ name: '=1+2', cmd: '@SUM(A1)', neg: -3, dash: '-x' }])).toBe("\uFEFFname,cmd,neg,dash\r\n'=1+2,'@SUM(A1),-3,'-x\r\n")
  })

  it('answers a header-less empty table for no rows', () => {
    expect(toCsv([])).toBe('\uFEFF\r\n')
  })
})

describe('Accept negotiation', () => {
  it.each([
    ['text/csv', true],
    ['text/csv, application/json', true],
    ['application/json, text/csv;q=0.5', false],
    ['text/csv;q=0.9, application/json;q=0.8', true],
    ['text/csv;q=0', false],
    ['text/html,application/xhtml+xml,*/*;q=0.8', false],
    ['application/json', false],
  ])('%s → csv %s', (accept, csv) => {
    expect(acceptsCsvFirst(accept)).toBe(csv)
  })
})

describe('CSV export through the API', () => {
  let dir: string
  let store: TelemetryStore
  let app: FastifyInstance

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-csv-'))
    store = await createEmbeddedStore({ path: join(dir, 'telemetry.db') })
    await store.write([
      {
        measurement: TELEMETRY_MEASUREMENT,
        tags: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' },
        ts: NOW - 2000,
        fields: { active_power_kw: 412.5, power_factor: 0.93, q_power_factor: 1, seq: 42 },
      },
      {
        measurement: TELEMETRY_MEASUREMENT,
        tags: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'press' },
        ts: NOW - 60_000,
        fields: { active_power_kw: 10, seq: 7 },
      },
    ])
    app = await build({ store, plant: PLANT, now: () => NOW })
  })

  afterAll(async () => {
    await app?.close()
    await store?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('exports /devices with ?format=csv: text/csv, a file name from the route, the rows as given', async () => {
    const res = await app.inject('/api/v1/devices?format=csv')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8')
    expect(res.headers['content-disposition']).toBe('attachment; filename="plantwatt-devices.csv"')
    // UTF-8 BOM bytes first, so Excel reads the Chinese names right.
    expect([...res.rawPayload.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    expect(res.body.split('\r\n')[0]).toBe('\uFEFFenterprise,site,line,device,name,kind,mainMeter,inModel,lastSeen,online')
    expect(parse(res.body, { bom: true, columns: true })).toEqual([
      {
        enterprise: 'acme',
        site: 'wuhan',
        line: 'l1',
        device: 'meter',
        name: '进线总表, "主"',
        kind: 'meter',
        mainMeter: 'true',
        inModel: 'true',
        lastSeen: String(NOW - 2000),
        online: 'true',
      },
      {
        enterprise: 'acme',
        site: 'wuhan',
        line: 'l1',
        device: 'press',
        name: `'=HYPERLINK("x")`,
        kind: 'machine',
        mainMeter: 'false',
        inModel: 'true',
        lastSeen: String(NOW - 60_000),
        online: 'false',
      },
    ])
  })

  it('exports /live on Accept: text/csv, one column per quantity and a quality column where flagged', async () => {
    const res = await app.inject({ url: '/api/v1/live?line=l1', headers: { accept: 'text/csv' } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-disposition']).toBe('attachment; filename="plantwatt-live.csv"')
    expect(parse(res.body, { bom: true, columns: true })).toEqual([
      // header union: meter's columns first, press adds none
      {
        enterprise: 'acme',
        site: 'wuhan',
        line: 'l1',
        device: 'meter',
        name: '进线总表, "主"',
        ts: String(NOW - 2000),
        ageMs: '2000',
        online: 'true',
        seq: '42',
        active_power_kw: '412.5',
        power_factor: '0.93',
        quality_power_factor: 'uncertain',
      },
      {
        enterprise: 'acme',
        site: 'wuhan',
        line: 'l1',
        device: 'press',
        name: `'=HYPERLINK("x")`,
        ts: String(NOW - 60_000),
        ageMs: '60000',
        online: 'false',
        seq: '7',
        active_power_kw: '10',
        power_factor: '',
        quality_power_factor: '',
      },
    ])
  })

  it('keeps JSON for format=json and for browsers, and /devices and /live carry rows in JSON too', async () => {
    const json = await app.inject({ url: '/api/v1/devices?format=json', headers: { accept: 'text/csv' } })
    expect(json.headers['content-type']).toMatch(/^application\/json/)
    const body = json.json() as { devices: unknown[]; rows: unknown[] }
    expect(body.rows).toEqual(body.devices)
    const browser = await app.inject({ url: '/api/v1/live', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })
    expect(browser.headers['content-type']).toMatch(/^application\/json/)
  })

  it('answers 406 API_ERR_NOT_ACCEPTABLE for a route without rows, and 400 for an unknown format', async () => {
    const res = await app.inject('/api/v1/quantities?format=csv')
    expect(res.statusCode).toBe(406)
    expect(res.json()).toEqual({
      error: { code: 'API_ERR_NOT_ACCEPTABLE', message: 'GET /api/v1/quantities has no table to export as CSV (no top-level "rows"); ask for JSON' },
    })
    const stream = await app.inject('/api/v1/stream?format=csv')
    expect(stream.statusCode).toBe(406)
    expect((stream.json() as { error: { code: string } }).error.code).toBe('API_ERR_NOT_ACCEPTABLE')
    const bad = await app.inject('/api/v1/devices?format=xml')
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ error: { code: 'API_ERR_VALIDATION', message: 'query parameter "format" must be csv or json' } })
  })

  it('leaves errors in JSON, and still rejects unknown parameters next to format', async () => {
    const res = await app.inject('/api/v1/live?format=csv&colour=red')
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(res.json()).toMatchObject({ error: { code: 'API_ERR_VALIDATION', message: 'unknown query parameter "colour"' } })
  })
})
