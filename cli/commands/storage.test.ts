import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import { buildProgram } from '../program.ts'

const tmp = mkdtempSync(join(tmpdir(), 'pw-cli-storage-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

async function run(args: string[]): Promise<string> {
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
  try {
    await buildProgram().parseAsync(args, { from: 'user' })
    return write.mock.calls.map((c) => String(c[0])).join('')
  } finally {
    write.mockRestore()
  }
}

describe('plantwatt storage', () => {
  it('status, backup and restore on the configured embedded store', async () => {
    const path = join(tmp, 'data', 'plantwatt.db')
    const T0 = Date.UTC(2026, 0, 1)
    const store = createEmbeddedStore({ path, retention: {}, clock: () => T0 + 2 * 3_600_000, maintenanceIntervalMs: 0 })
    // Two devices × one field, every 10 s for an hour: 720 raw points, 120 minute rows, 8 quarter rows.
    await store.write(Array.from({ length: 720 }, (_, i) => ({ measurement: 'telemetry', tags: { device: `m${i % 2}` }, fields: { p: i }, ts: T0 + 5000 * i })))
    store.maintain()
    await store.close()
    const config = join(tmp, 'plantwatt.yaml')
    writeFileSync(config, `storage:\n  backend: embedded\n  path: ${JSON.stringify(path)}\n  retention:\n    rawDays: 30\n`)

    const status = await run(['storage', 'status', '-c', config])
    expect(status).toContain('schema version 2')
    expect(status).toMatch(/raw\s+\S+ MB\s+720\s/)
    expect(status).toMatch(/1m\s+\S+ MB\s+120\s/)
    expect(status).toMatch(/15m\s+\S+ MB\s+8\s/)
    expect(status).toContain('30 d')
    expect(status).toContain('projected at a year:')

    const backupFile = join(tmp, 'backups', 'pw.backup')
    expect(await run(['storage', 'backup', '-c', config, '--to', backupFile])).toContain(`to ${backupFile}`)
    const out = await run(['storage', 'restore', '--from', backupFile, '--to', join(tmp, 'restored')])
    expect(out).toContain(join(tmp, 'restored', 'plantwatt.db'))
    const copy = createEmbeddedStore({ path: join(tmp, 'restored', 'plantwatt.db') })
    expect(await copy.aggregate({ measurement: 'telemetry', fields: ['p'], start: T0, stop: T0 + 3_600_000, fn: 'count' })).toEqual([
      { tags: {}, field: 'p', windowStart: T0, value: 720 },
    ])
    await copy.close()
    // A backup never overwrites; a restore never lands on a store.
    await expect(run(['storage', 'backup', '-c', config, '--to', backupFile])).rejects.toMatchObject({ code: 'STORAGE_ERR_BACKUP' })
    await expect(run(['storage', 'restore', '--from', backupFile, '--to', join(tmp, 'restored')])).rejects.toMatchObject({ code: 'STORAGE_ERR_RESTORE' })
    expect(existsSync(join(tmp, 'restored', 'edge-buffer'))).toBe(false)
  })

  it('names InfluxDB’s own tools instead of working on it', async () => {
    const config = join(tmp, 'influx.yaml')
    writeFileSync(config, 'storage:\n  backend: influxdb\n  url: http://127.0.0.1:1\n  database: pw\n')
    await expect(run(['storage', 'backup', '-c', config, '--to', join(tmp, 'x.backup')])).rejects.toMatchObject({
      code: 'CLI_ERR_STORAGE_BACKEND',
      message: expect.stringContaining('influxd backup -portable'),
    })
  })
})
