/**
 * Ingest into InfluxDB writes line protocol straight from the payload's bytes (the scanner's fast
 * path) or, for what the scanner declines, from decoded points. Both must store exactly what the
 * point path stores in the embedded store: the same series, fields, timestamps and numbers.
 */
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type RunningBroker } from '../broker/index.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { isValidPayloadFast } from '../core/payload-scan.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { createInfluxStore } from '../storage/influxdb/index.ts'
import type { RawRow, TelemetryStore } from '../storage/store.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { IngestConfigSchema } from './config.ts'
import { startIngest, type RunningIngest } from './ingest.ts'
import { tempDir, waitFor } from './test-helpers.ts'

const logger = silentLogger()
const T0 = Date.UTC(2025, 2, 3, 8, 0, 0)
const FIELDS = [
  'active_power_kw',
  'energy_import_kwh',
  'power_factor',
  'voltage_l1_v',
  'frequency_hz',
  'seq',
  'q_active_power_kw',
  'q_power_factor',
  'q_voltage_l1_v',
]

/** [device, payload text]: what the scanner takes as it is, and what it leaves to the full decode. */
function payloads(): [string, string][] {
  const out: [string, string][] = []
  // Plain payloads as the edge agent writes them, with JSON.stringify's 17-digit doubles.
  for (let seq = 0; seq < 20; seq++) {
    const samples = Array.from({ length: 5 }, (_, i) => ({
      ts: T0 + (seq * 5 + i) * 1000,
      values: { active_power_kw: 100 + seq * 0.1 + i * 0.7, energy_import_kwh: 1000 + (seq * 5 + i) * 0.03, frequency_hz: 50 - i / 100 },
    }))
    out.push([`m${seq % 3}`, JSON.stringify({ seq, samples })])
  }
  const t = T0 + 3_600_000
  // Whitespace, members in another order, integers, negative numbers, empty values.
  out.push(['w1', `{ "samples" : [ { "values" : { "active_power_kw" : -12 , "power_factor" : 0.5 } , "ts" : ${t} } ] , "seq" : 7 }`])
  out.push(['w1', `{"seq":8,"samples":[{"ts":${t + 1000},"values":{}}]}`])
  // Declined by the scanner, stored through the decoded points: quality, exponents, escapes.
  out.push([
    'q1',
    JSON.stringify({
      seq: 1,
      samples: [
        {
          ts: t,
          values: { active_power_kw: 5, power_factor: 0.93, voltage_l1_v: 229.5 },
          quality: { power_factor: 'bad', voltage_l1_v: 'uncertain', active_power_kw: 'good' },
        },
      ],
    }),
  ])
  out.push(['q1', `{"seq":2,"samples":[{"ts":${t + 1000},"values":{"active_power_kw":1.5e-7,"energy_import_kwh":1E5}}]}`])
  out.push(['q1', `{"seq":3,"samples":[{"ts":${t + 2000},"values":{"active_\\u0070ower_kw":42}}]}`])
  return out
}

let influx: RunningInfluxd
let broker: RunningBroker
const cleanups: (() => Promise<void> | void)[] = []

beforeAll(async () => {
  influx = await startInfluxd()
  broker = await startBroker({ host: '127.0.0.1', port: 0 }, { logger })
})

afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
  await broker?.close()
  await influx?.stop()
})

async function ingestInto(store: TelemetryStore, clientId: string): Promise<RunningIngest> {
  const running = await startIngest({
    config: validateConfig(IngestConfigSchema, { flushIntervalMs: 20 }),
    mqtt: { url: broker.url, clientId, keepaliveS: 30, reconnectPeriodMs: 100 },
    store,
    logger,
  })
  cleanups.push(() => running.close())
  return running
}

function rows(store: TelemetryStore): Promise<RawRow[]> {
  return store.raw({ measurement: 'telemetry', fields: FIELDS, filter: { enterprise: 'lp' }, start: T0 - 1000, stop: T0 + 7_200_000, limit: 10_000 })
}

describe('ingest into InfluxDB: sample blocks from the payload bytes', () => {
  it('stores what the point path stores, for payloads the scanner takes and for those it declines', async () => {
    const dir = tempDir()
    const embedded = createEmbeddedStore({ path: join(dir.path, 'telemetry.db') })
    cleanups.push(async () => {
      await embedded.close()
      dir.cleanup()
    })
    const influxStore = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: 'ingest_lines', createDatabase: true })
    cleanups.push(() => influxStore.close())
    // InfluxDB cannot tell conflicts itself: ingest gives it the scanner's blocks; the embedded store gets points (writeKeepFirst).
    expect(influxStore.writeBlocks).toBeTypeOf('function')
    expect(influxStore.writeKeepFirst).toBeUndefined()
    expect(embedded.writeKeepFirst).toBeTypeOf('function')
    const viaLines = await ingestInto(influxStore, 'ingest-lines')
    const viaPoints = await ingestInto(embedded, 'ingest-points')

    const all = payloads()
    // Both paths are exercised: most payloads take the scanner, the last three do not.
    expect(all.filter(([, p]) => isValidPayloadFast(Buffer.from(p))).length).toBe(all.length - 3)
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'lp-pub', reconnectPeriod: 0 })
    cleanups.push(() => pub.endAsync(true))
    for (const [device, payload] of all) await pub.publishAsync(`pw/v1/lp/s1/l1/${device}/data`, payload, { qos: 1 })
    const samples = all.reduce((n, [, p]) => n + (JSON.parse(p) as { samples: unknown[] }).samples.length, 0)
    await waitFor('both ingests wrote every sample', () =>
      viaLines.stats().writtenSamples === samples && viaPoints.stats().writtenSamples === samples ? true : undefined,
    )
    expect(viaLines.stats().deadLettered).toEqual({})

    const fromInflux = await rows(influxStore)
    const fromEmbedded = await rows(embedded)
    expect(fromInflux.length).toBeGreaterThan(samples * 2)
    expect(fromInflux).toEqual(fromEmbedded)

    // And the values are the payloads' own numbers, bit for bit (17-digit doubles included).
    const byKey = new Map(fromInflux.map((r) => [`${r.tags.device}/${r.field}/${r.ts}`, r.value]))
    for (const [device, payload] of all.slice(0, 20)) {
      const p = JSON.parse(payload) as { seq: number; samples: { ts: number; values: Record<string, number> }[] }
      for (const s of p.samples) {
        for (const [field, value] of Object.entries(s.values)) expect(Object.is(byKey.get(`${device}/${field}/${s.ts}`), value)).toBe(true)
        expect(byKey.get(`${device}/seq/${s.ts}`)).toBe(p.seq)
      }
    }
    const t = T0 + 3_600_000
    expect(byKey.get(`w1/active_power_kw/${t}`)).toBe(-12)
    expect(byKey.get(`w1/seq/${t + 1000}`)).toBe(8)
    expect(byKey.has(`q1/power_factor/${t}`)).toBe(false)
    expect(byKey.get(`q1/q_power_factor/${t}`)).toBe(2)
    expect(byKey.get(`q1/q_voltage_l1_v/${t}`)).toBe(1)
    expect(byKey.get(`q1/energy_import_kwh/${t + 1000}`)).toBe(100_000)
    expect(byKey.get(`q1/active_power_kw/${t + 2000}`)).toBe(42)
  })
})
