/**
 * The XLSX export read back without the library that wrote it: the .xlsx is unzipped here (node:zlib)
 * and its sheet XML parsed, then every exported table is checked cell by cell against the CSV of the
 * same route, and the basis lines and hand-worked figures against what was uploaded.
 */
import { generateKeyPairSync } from 'node:crypto'
import { inflateRawSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildProvinceApp } from './app.ts'
import { resolveProvinceConfig } from './config.ts'
import { MESSAGE_FORMAT, type IndicatorRecord } from './message.ts'
import { EnterpriseRegistry } from './registry.ts'
import { ProvinceStore } from './store.ts'
import { toXlsx, XLSX_TYPE } from './xlsx.ts'

type Value = string | number | boolean | null

/** The files of a zip archive (stored or deflated entries), by name. */
function unzip(buf: Buffer): Map<string, Buffer> {
  let eocd = buf.length - 22
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--
  if (eocd < 0) throw new Error('not a zip: no end of central directory')
  const files = new Map<string, Buffer>()
  let at = buf.readUInt32LE(eocd + 16)
  for (let i = 0; i < buf.readUInt16LE(eocd + 10); i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry at ${at}`)
    const method = buf.readUInt16LE(at + 10)
    const size = buf.readUInt32LE(at + 20)
    const nameLen = buf.readUInt16LE(at + 28)
    const local = buf.readUInt32LE(at + 42)
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString('utf8')
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
    const raw = buf.subarray(data, data + size)
    files.set(name, method === 8 ? inflateRawSync(raw) : Buffer.from(raw))
    at += 46 + nameLen + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32)
  }
  return files
}

const unescapeXml = (s: string): string =>
  s.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' }
    if (named[e] !== undefined) return named[e]
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)))
  })

const columnIndex = (ref: string): number => [...(/^[A-Z]+/.exec(ref)?.[0] ?? '')].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1

/** Every sheet of an .xlsx as rows of cell values (row and column positions kept; absent cells null). */
function readXlsx(buf: Buffer): Map<string, Value[][]> {
  const files = unzip(buf)
  const text = (name: string): string => files.get(name)?.toString('utf8') ?? ''
  const shared = [...text('xl/sharedStrings.xml').matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) =>
    [...(m[1] ?? '').matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((t) => unescapeXml(t[1] ?? '')).join(''),
  )
  const targets = new Map([...text('xl/_rels/workbook.xml.rels').matchAll(/Id="([^"]+)"[^>]*Target="([^"]+)"/g)].map((m) => [m[1], m[2]]))
  const sheets = new Map<string, Value[][]>()
  for (const s of text('xl/workbook.xml').matchAll(/<sheet [^>]*>/g)) {
    const name = unescapeXml(/name="([^"]*)"/.exec(s[0])?.[1] ?? '')
    const xml = text(`xl/${targets.get(/r:id="([^"]*)"/.exec(s[0])?.[1]) ?? ''}`)
    const rows: Value[][] = []
    for (const r of xml.matchAll(/<row r="(\d+)"[^>]*?(?:\/>|>([\s\S]*?)<\/row>)/g)) {
      const row: Value[] = []
      for (const c of (r[2] ?? '').matchAll(/<c r="([A-Z]+)\d+"([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
        const type = /t="([^"]+)"/.exec(c[2] ?? '')?.[1]
        const v = /<v>([\s\S]*?)<\/v>/.exec(c[3] ?? '')?.[1]
        const inline = /<t[^>]*>([\s\S]*?)<\/t>/.exec(c[3] ?? '')?.[1]
        let value: Value = null
        if (type === 's') value = shared[Number(v)] ?? null
        else if (type === 'b') value = v === '1'
        else if (type === 'inlineStr') value = unescapeXml(inline ?? '')
        else if (type === 'str') value = unescapeXml(v ?? '')
        else if (v !== undefined) value = Number(v)
        row[columnIndex(c[1] ?? 'A')] = value
      }
      rows[Number(r[1]) - 1] = Array.from(row, (x) => x ?? null)
    }
    sheets.set(
      name,
      Array.from(rows, (x) => x ?? []),
    )
  }
  return sheets
}

/** RFC 4180 CSV (the BOM dropped) → rows of strings. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  const s = text.replace(/^\uFEFF/, '')
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') {
        cell += '"'
        i++
      } else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') {
      row.push(cell)
      cell = ''
    } else if (ch === '\r' && s[i + 1] === '\n') {
      row.push(cell)
      rows.push(row)
      row = []
      cell = ''
      i++
    } else cell += ch
  }
  return rows
}

/** A sheet's basis lines (name → text) and its table (header first), split at the first empty row. */
function splitSheet(rows: Value[][]): { title: Value; basis: Map<string, string>; table: Value[][] } {
  const blank = rows.findIndex((r) => r.every((c) => c === null))
  return {
    title: rows[0]?.[0] ?? null,
    basis: new Map(rows.slice(1, blank).map((r) => [String(r[0]), String(r[1])])),
    table: rows.slice(blank + 1),
  }
}

/** A sheet's table as the CSV writes it: numbers in JavaScript's shortest form, booleans true/false, empty for null. */
const asCsvText = (table: Value[][], width: number): string[][] =>
  table.map((r) => Array.from({ length: width }, (_, i) => (r[i] === null || r[i] === undefined ? '' : String(r[i]))))

describe('toXlsx', () => {
  it('writes the title, the basis lines, an empty row, the header and typed cells', async () => {
    const rows = [
      { id: 'a', tce: 12.29, share: 0.32638888888888884, missing: null, behind: true, list: { n: 1 }, name: '黄石 "<东>" & co' },
      { id: 'b', tce: 0, share: 1, missing: 3, behind: false, list: [1, 2], name: '' },
    ]
    const sheets = readXlsx(await toXlsx([{ sheet: 'cities', title: 'Hubei · cities · 2026-11', basis: { period: '2026-11', format: MESSAGE_FORMAT }, rows }]))
    expect([...sheets.keys()]).toEqual(['cities'])
    expect(sheets.get('cities')).toEqual([
      ['Hubei · cities · 2026-11'],
      ['period', '2026-11'],
      ['format', MESSAGE_FORMAT],
      [],
      ['id', 'tce', 'share', 'missing', 'behind', 'list', 'name'],
      ['a', 12.29, 0.32638888888888884, null, true, '{"n":1}', '黄石 "<东>" & co'],
      // an empty string is written as an empty cell, as the CSV writes it
      ['b', 0, 1, 3, false, '[1,2]'],
    ])
  })
})

const TZ = 'Asia/Shanghai'
const NOV = Date.UTC(2026, 9, 31, 16) // 2026-11-01 00:00 +08:00
const Q = 900_000
const D = 86_400_000
const pem = (): string => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
const rec = (p: Partial<IndicatorRecord> & Pick<IndicatorRecord, 'indicator' | 'period' | 'start' | 'value'>): IndicatorRecord => ({
  subject: 'boundary',
  end: p.start + (p.period === '15m' ? Q : p.period === 'day' ? D : 30 * D),
  revision: 0,
  unit: 'kWh',
  basis: 'test, GB/T 2589-2020',
  ...p,
})

describe('the commission export: XLSX against the CSV of every route', () => {
  let store: ProvinceStore
  let app: FastifyInstance
  const get = (url: string) => app.inject({ method: 'GET', url })

  beforeAll(async () => {
    const config = resolveProvinceConfig({
      name: 'Hubei',
      enterprises: [
        { id: 'a', name: '黄石 "A" Cement, Ltd', city: '黄石 Huangshi', publicKey: pem() },
        { id: 'b', name: 'B Parts', city: '武汉 Wuhan', publicKey: pem() },
      ],
    })
    store = new ProvinceStore({ path: ':memory:', timezone: TZ, lateAfterMs: 3_600_000 })
    // a: the whole month of quarters and days on time, 12,290 kgce; b: 10 days of quarters, no days, 5,000 kgce
    const month = (value: number) => rec({ indicator: 'comprehensive_energy', period: 'month', start: NOV, value, unit: 'kgce' })
    const quarters = (days: number) =>
      Array.from({ length: days * 96 }, (_, i) => rec({ indicator: 'energy', carrier: 'electricity', period: '15m', start: NOV + i * Q, value: 25 }))
    const days = Array.from({ length: 30 }, (_, i) => rec({ indicator: 'energy', carrier: 'electricity', period: 'day', start: NOV + i * D, value: 2400 }))
    const monthEnergy = rec({ indicator: 'energy', carrier: 'electricity', period: 'month', start: NOV, value: 72_000 })
    for (const r of [...quarters(30), ...days, monthEnergy, month(12_290)]) store.storeUpload('a', [r], r.end + 60_000, `ra${r.start}${r.period}`)
    store.storeUpload('b', [...quarters(10), month(5000)], NOV + 31 * D, 'rb')
    app = await buildProvinceApp({ config, store, registry: new EnterpriseRegistry(config.enterprises), now: () => Date.UTC(2026, 11, 6, 4) })
  })
  afterAll(async () => {
    await app?.close()
    store?.close()
  })

  const routes: [route: string, sheet: string, file: string][] = [
    ['/api/v1/overview?month=2026-11', 'cities', 'province-2026-11.xlsx'],
    ['/api/v1/cities?month=2026-11', 'cities', 'cities-2026-11.xlsx'],
    ['/api/v1/enterprises?month=2026-11', 'enterprises', 'enterprises-2026-11.xlsx'],
    ['/api/v1/quality?month=2026-11', 'behind', 'behind-2026-11.xlsx'],
    ['/api/v1/enterprises/a/indicators?month=2026-11&period=day', 'indicators', 'a-2026-11.xlsx'],
  ]
  it.each(routes)('%s: the %s sheet holds the CSV table cell for cell, numbers as numbers, after its basis lines', async (route, sheet, file) => {
    const csv = parseCsv((await get(`${route}&format=csv`)).body)
    const res = await get(`${route}&format=xlsx`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe(XLSX_TYPE)
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${file}"`)
    const rows = readXlsx(res.rawPayload).get(sheet)
    if (!rows) throw new Error(`no sheet ${sheet}`)
    const { title, basis, table } = splitSheet(rows)
    expect(title).toMatch(/^Hubei · .+ · 2026-11$/)
    expect(basis.get('province')).toBe('Hubei')
    expect(basis.get('period')).toBe('2026-11: 2026-10-31T16:00:00.000Z – 2026-11-30T16:00:00.000Z (Asia/Shanghai)')
    expect(basis.get('format')).toContain(MESSAGE_FORMAT)
    expect(csv.length).toBeGreaterThan(1)
    expect(table.length).toBe(csv.length)
    expect(asCsvText(table, csv[0]?.length ?? 0)).toEqual(csv)
    // numbers are numeric cells, not text
    for (const [i, name] of (csv[0] ?? []).entries()) {
      for (const [r, line] of csv.slice(1).entries())
        if (line[i] !== '' && /^-?\d+(\.\d+)?(e-?\d+)?$/.test(line[i] ?? '')) expect(typeof table[r + 1]?.[i], name).toBe('number')
    }
  })

  it('exports the whole view of the month as one workbook, figures hand-worked', async () => {
    const sheets = readXlsx((await get('/api/v1/overview?month=2026-11&format=xlsx')).rawPayload)
    expect([...sheets.keys()]).toEqual(['overview', 'rank-energy', 'rank-completeness', 'cities', 'products', 'enterprises', 'quality', 'behind'])
    const overview = splitSheet(sheets.get('overview') ?? [])
    expect(overview.basis.get('comprehensiveEnergy')).toContain('kgce')
    expect(overview.table[0]).toEqual(['figure', 'value', 'unit', 'basis'])
    const figure = (name: string) => overview.table.find((r) => r[0] === name)
    // 12,290 + 5,000 kgce = 17.29 tce
    expect(figure('comprehensive energy')?.slice(1, 3)).toEqual([17.29, 'tce'])
    // a: 2,880 of 2,880 quarters, b: 960 → (2,880 + 960) / 5,760
    expect(figure('completeness')?.[1]).toBeCloseTo(3840 / 5760, 12)
    expect(figure('enterprises')?.[1]).toBe(2)
    expect(splitSheet(sheets.get('rank-energy') ?? []).table.map((r) => r.slice(0, 2).concat(r.slice(4)))).toEqual([
      ['rank', 'id', 'tce'],
      [1, 'a', 12.29],
      [2, 'b', 5],
    ])
    // b is behind: 960 of 2,880 quarters, no daily and no monthly energy
    const behind = splitSheet(sheets.get('behind') ?? []).table
    expect(behind.map((r) => r[0])).toEqual(['id', 'b'])
  })

  it('refuses an unknown format with a coded error naming the field, and documents xlsx in OpenAPI', async () => {
    const bad = await get('/api/v1/cities?month=2026-11&format=xls')
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ error: { code: 'PROVINCE_ERR_QUERY' } })
    expect(JSON.stringify(bad.json())).toContain('format')
    const doc = (await get('/docs/json')).json() as {
      paths: Record<
        string,
        {
          get: {
            parameters: { name: string; schema: { anyOf?: { enum?: string[]; const?: string }[] } }[]
            responses: Record<string, { content: Record<string, unknown> }>
          }
        }
      >
    }
    const cities = doc.paths['/api/v1/cities']?.get
    expect(JSON.stringify(cities?.parameters.find((p) => p.name === 'format'))).toContain('xlsx')
    expect(Object.keys(cities?.responses['200']?.content ?? {})).toContain(XLSX_TYPE)
  })
})
