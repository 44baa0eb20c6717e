import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createEmbeddedEventLog } from './events.ts'
import { createEmbeddedStore } from './index.ts'
import { MIGRATIONS, migrate, SCHEMA_VERSION } from './migrations.ts'
import { writeRelease1File } from './testing/release-1-file.ts'

const T0 = Date.UTC(2025, 5, 1)

describe('embedded schema migrations', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pw-migrate-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('numbers its steps 1, 2, … without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1))
    expect(SCHEMA_VERSION).toBe(2)
  })

  it("opens release 1's file, migrates it to the current version, and reads every value back", async () => {
    const path = join(dir, 'release-1.db')
    const points = Array.from({ length: 300 }, (_, i) => ({
      measurement: 'telemetry',
      tags: { site: 's', device: `m${i % 3}` },
      field: i % 2 === 0 ? 'active_power_kw' : 'energy_import_kwh',
      ts: T0 + 1000 * i,
      value: i * 0.25 - 7,
    }))
    writeRelease1File(path, points)

    const store = createEmbeddedStore({ path, retention: { rawDays: 90 }, clock: () => T0 + 3_600_000, maintenanceIntervalMs: 0 })
    const check = new Database(path, { readonly: true })
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
    expect(check.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name IN ('rollup_1m', 'rollup_15m', 'rollup_dirty', 'storage_state')").get()).toEqual({
      n: 4,
    })
    check.close()

    const rows = await store.raw({ measurement: 'telemetry', fields: ['active_power_kw', 'energy_import_kwh'], start: T0, stop: T0 + 300_000, limit: 1000 })
    expect(rows).toHaveLength(300)
    const byKey = new Map(rows.map((r) => [`${r.tags.device}|${r.field}|${r.ts}`, r.value]))
    for (const p of points) expect(byKey.get(`${p.tags.device}|${p.field}|${p.ts}`)).toBe(p.value)
    // The old data is rolled up like new data: m0's power, i = 0, 6, …, 54 in minute 0 → sum 0.25·270 − 7·10.
    const before = await store.aggregate({
      measurement: 'telemetry',
      fields: ['active_power_kw'],
      filter: { device: 'm0' },
      start: T0,
      stop: T0 + 60_000,
      fn: 'sum',
    })
    store.maintain()
    const after = await store.aggregate({
      measurement: 'telemetry',
      fields: ['active_power_kw'],
      filter: { device: 'm0' },
      start: T0,
      stop: T0 + 60_000,
      fn: 'sum',
    })
    expect(before[0]?.value).toBe(-2.5)
    expect(after).toEqual(before)
    await store.close()

    const events = createEmbeddedEventLog({ path })
    expect(await events.query({ kind: 'alert_event' })).toEqual([{ kind: 'alert_event', ts: 1, tags: { rule: 'r1' }, fields: { state: 'firing' } }])
    await events.close()
  })

  it('applies each step in its own transaction: a failing step leaves the file at the step before', () => {
    const db = new Database(join(dir, 'half.db'))
    const steps = [...MIGRATIONS, { version: 3, what: 'broken', sql: 'CREATE TABLE ok (x); CREATE TABLE broken (' }]
    expect(() => migrate(db, 'half.db', steps)).toThrow()
    expect(db.pragma('user_version', { simple: true })).toBe(2)
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'ok'").get()).toEqual({ n: 0 })
    db.close()
  })

  it('refuses a file from a newer release with STORAGE_ERR_SCHEMA and leaves it untouched', () => {
    const path = join(dir, 'future.db')
    const raw = new Database(path)
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
    raw.close()
    expect(() => createEmbeddedStore({ path })).toThrow(expect.objectContaining({ code: 'STORAGE_ERR_SCHEMA' }))
    const again = new Database(path, { readonly: true })
    expect(again.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1)
    expect(again.prepare('SELECT count(*) AS n FROM sqlite_schema').get()).toEqual({ n: 0 })
    again.close()
  })
})
