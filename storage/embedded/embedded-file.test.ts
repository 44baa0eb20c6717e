import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import type { TelemetryPoint } from '../store.ts'
import { createEmbeddedStore } from './index.ts'

const T0 = Date.UTC(2024, 4, 1)
const pt = (device: string, ts: number, p: number): TelemetryPoint => ({ measurement: 'telemetry', tags: { device }, fields: { p }, ts })

describe('embedded store file', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pw-embedded-file-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('creates its folder, uses WAL, and keeps data across reopening', async () => {
    const path = join(dir, 'a', 'b', 'plantwatt.db')
    const first = createEmbeddedStore({ path })
    await first.write([pt('d1', T0, 1.25)])
    await first.close()
    const raw = new Database(path, { readonly: true })
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(raw.prepare('SELECT count(*) AS n FROM points').get()).toEqual({ n: 1 })
    raw.close()
    const again = createEmbeddedStore({ path })
    expect(await again.latest({ measurement: 'telemetry' })).toEqual([{ tags: { device: 'd1' }, field: 'p', ts: T0, value: 1.25 }])
    await again.close()
  })

  it('keeps :memory: stores apart', async () => {
    const a = createEmbeddedStore({ path: ':memory:' })
    const b = createEmbeddedStore({ path: ':memory:' })
    await a.write([pt('d1', T0, 1)])
    expect(await a.latest({ measurement: 'telemetry' })).toHaveLength(1)
    expect(await b.latest({ measurement: 'telemetry' })).toEqual([])
    await a.close()
    await b.close()
  })

  it('sees series another connection added after its own series were loaded', async () => {
    const path = join(dir, 'shared.db')
    const writer = createEmbeddedStore({ path })
    const reader = createEmbeddedStore({ path })
    await writer.write([pt('d1', T0, 1)])
    expect((await reader.latest({ measurement: 'telemetry' })).map((r) => r.tags.device)).toEqual(['d1'])
    await writer.write([pt('d2', T0, 2), pt('d1', T0 + 1000, 3)])
    expect((await reader.latest({ measurement: 'telemetry' })).map((r) => [r.tags.device, r.value])).toEqual([
      ['d1', 3],
      ['d2', 2],
    ])
    const sum = await reader.aggregate({ measurement: 'telemetry', fields: ['p'], start: T0, stop: T0 + 60_000, fn: 'sum' })
    expect(sum[0]?.value).toBe(6)
    await writer.close()
    await reader.close()
  })

  it('shares one file with a writer in another process', async () => {
    const path = join(dir, 'multi.db')
    const reader = createEmbeddedStore({ path })
    await reader.write([pt('parent', T0, 1)])
    const script = join(dir, 'writer.mts')
    writeFileSync(
      script,
      `import { createEmbeddedStore } from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))}
const store = createEmbeddedStore({ path: ${JSON.stringify(path)} })
for (let b = 0; b < 20; b++) {
  await store.write(Array.from({ length: 500 }, (_, i) => ({ measurement: 'telemetry', tags: { device: 'child' }, fields: { p: 1 }, ts: ${T0} + (b * 500 + i) * 1000 })))
}
await store.close()
`,
    )
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    // Read while the other process writes: WAL readers neither block nor see half a batch.
    const seen: number[] = []
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    let done = false
    void exited.then(() => (done = true))
    while (!done) {
      const rows = await reader.aggregate({
        measurement: 'telemetry',
        fields: ['p'],
        filter: { device: 'child' },
        start: T0,
        stop: T0 + 10_000_000,
        fn: 'count',
      })
      seen.push(rows[0]?.value ?? 0)
      await new Promise((r) => setTimeout(r, 5))
    }
    expect(await exited, stderr).toBe(0)
    expect(seen.every((n) => n % 500 === 0)).toBe(true)
    const total = await reader.aggregate({ measurement: 'telemetry', fields: ['p'], start: T0, stop: T0 + 10_000_000, fn: 'count', groupBy: ['device'] })
    expect(total.map((r) => [r.tags.device, r.value])).toEqual([
      ['child', 10_000],
      ['parent', 1],
    ])
    await reader.close()
  })

  it('refuses a database written by a newer schema', async () => {
    const path = join(dir, 'future.db')
    const raw = new Database(path)
    raw.pragma('user_version = 99')
    raw.close()
    let code: string | undefined
    try {
      createEmbeddedStore({ path })
    } catch (err) {
      code = isPlantWattError(err) ? err.code : 'other'
    }
    expect(code).toBe('STORAGE_ERR_SCHEMA')
  })

  it('reports a path it cannot create as STORAGE_ERR_UNAVAILABLE', () => {
    const file = join(dir, 'plain-file')
    writeFileSync(file, 'x')
    expect(() => createEmbeddedStore({ path: join(file, 'sub', 'db.sqlite') })).toThrow(expect.objectContaining({ code: 'STORAGE_ERR_UNAVAILABLE' }))
  })
})
