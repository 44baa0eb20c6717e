import { afterAll, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/logger.ts'
import { MqttClientConfigSchema } from '../../core/mqtt.ts'
import { startBroker } from '../../broker/index.ts'
import { IngestConfigSchema, startIngest } from '../../ingest/index.ts'
import { createInfluxStore } from '../../storage/index.ts'
import { startInfluxd, type RunningInfluxd } from '../influxd.ts'
import { expectExactlyOnce, startLoad } from './harness.ts'

let influx: RunningInfluxd | undefined
afterAll(async () => {
  await influx?.stop()
})

// Writes fail for the whole outage: ingest retries with backoff, stops reading at
// maxInFlightMessages (the broker queues the rest for its persistent session), resumes alone.
const OUTAGE_MS = 30_000

it(`fault 1: InfluxDB stopped for ${OUTAGE_MS / 1000} s under steady load, then started — every (device, seq) stored exactly once`, async () => {
  influx = await startInfluxd()
  const db = 'fault_influx'
  const store = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: db, createDatabase: true, timeoutMs: 2000 })
  const broker = await startBroker({ port: 0 }, { logger: silentLogger() })
  const ingest = await startIngest({
    config: validateConfig(IngestConfigSchema, { flushIntervalMs: 100, maxInFlightMessages: 2000, retry: { initialMs: 100, maxMs: 1000 } }),
    mqtt: validateConfig(MqttClientConfigSchema, { url: broker.url, clientId: 'fault-ingest', reconnectPeriodMs: 100 }),
    store,
    logger: silentLogger(),
  })
  try {
    const load = await startLoad({ url: broker.url, devices: 20, ticksPerS: 20 })
    await new Promise((r) => setTimeout(r, 2000))
    await influx.pause()
    await new Promise((r) => setTimeout(r, OUTAGE_MS))
    const during = ingest.stats()
    // While the store was down: retries, a bounded number of messages held, lag growing.
    expect(during.retried).toBeGreaterThan(0)
    expect(during.inFlight).toBeLessThanOrEqual(2000)
    expect(during.lagMs).toBeGreaterThan(OUTAGE_MS / 2)
    await influx.resume()
    await new Promise((r) => setTimeout(r, 2000))
    await load.stop()
    const stored = await expectExactlyOnce(load, influx.url, db)
    expect(stored).toBeGreaterThan(20 * 20 * 12)
    expect(ingest.stats().deadLettered).toEqual({})
  } finally {
    await ingest.close()
    await broker.close()
    await store.close()
  }
}, 150_000)
