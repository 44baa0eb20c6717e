import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { describeEventLogContract } from './events.contract.ts'
import { MemoryEventLog, openEventLog } from './events.ts'
import { createEmbeddedStore } from './embedded/index.ts'

let influx: RunningInfluxd
let n = 0

beforeAll(async () => {
  influx = await startInfluxd()
})
afterAll(async () => {
  await influx?.stop()
})

describeEventLogContract('memory', async () => ({ log: new MemoryEventLog(), cleanup: async () => {} }))

describeEventLogContract('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-events-'))
  return {
    log: await openEventLog({ backend: 'embedded', path: join(dir, 'plantwatt.db') }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
})

describeEventLogContract('influxdb', async () => {
  const database = `events_${++n}`
  return {
    log: await openEventLog({ backend: 'influxdb', url: influx.url, database, createDatabase: true, timeoutMs: 10_000 }),
    cleanup: async () => {
      await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: `DROP DATABASE "${database}"` }) })
    },
  }
})

describe('embedded event log', () => {
  it('shares the telemetry file: events and points in one database, read by a second connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-events-'))
    const path = join(dir, 'plantwatt.db')
    try {
      const store = createEmbeddedStore({ path })
      await store.write([{ measurement: 'telemetry', tags: { enterprise: 'e', site: 's', line: 'l', device: 'd' }, fields: { active_power_kw: 5 }, ts: 1_000 }])
      const writer = await openEventLog({ backend: 'embedded', path })
      const reader = await openEventLog({ backend: 'embedded', path })
      await writer.append([{ kind: 'alert_event', ts: 2_000, tags: { device: 'd' }, fields: { alert_id: 'a1', value: 7 } }])
      expect(await reader.query({ kind: 'alert_event' })).toEqual([
        { kind: 'alert_event', ts: 2_000, tags: { device: 'd' }, fields: { alert_id: 'a1', value: 7 } },
      ])
      expect((await store.latest({ measurement: 'telemetry' }))[0]?.value).toBe(5)
      await Promise.all([writer.close(), reader.close(), store.close()])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('reports an unreachable influxd as STORAGE_ERR_UNAVAILABLE', async () => {
    const err = await openEventLog({ backend: 'influxdb', url: 'http://127.0.0.1:9', database: 'x', createDatabase: true, timeoutMs: 2000 }).catch(
      (e: unknown) => e,
    )
    expect((err as { code?: string }).code).toBe('STORAGE_ERR_UNAVAILABLE')
  })
})
