import { afterAll, expect, it } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { startBroker } from '../../broker/index.ts'
import { startScript } from '../child.ts'
import { startInfluxd, type RunningInfluxd } from '../influxd.ts'
import { expectExactlyOnce, startLoad } from './harness.ts'

let influx: RunningInfluxd | undefined
afterAll(async () => {
  await influx?.stop()
})

it('fault 3: ingest killed with SIGKILL under load and restarted — every (device, seq) stored exactly once', async () => {
  influx = await startInfluxd()
  const db = 'fault_ingest_kill'
  const broker = await startBroker({ port: 0 }, { logger: silentLogger() })
  const env = {
    PW_INGEST: JSON.stringify({ mqttUrl: broker.url, clientId: 'fault-ingest-kill', influxUrl: influx.url, database: db, ingest: { flushIntervalMs: 200 } }),
  }
  let ingest = await startScript('ingest-process.ts', env)
  try {
    const load = await startLoad({ url: broker.url, devices: 20, ticksPerS: 20 })
    await new Promise((r) => setTimeout(r, 2500))
    // Messages taken but not yet written die with the process; unacknowledged, the broker keeps them.
    await ingest.kill('SIGKILL')
    expect(ingest.child.signalCode).toBe('SIGKILL')
    await new Promise((r) => setTimeout(r, 2000))
    ingest = await startScript('ingest-process.ts', env)
    await new Promise((r) => setTimeout(r, 2000))
    await load.stop()
    const stored = await expectExactlyOnce(load, influx.url, db)
    expect(stored).toBeGreaterThan(20 * 20 * 5)
  } finally {
    await ingest.kill('SIGTERM')
    await broker.close()
  }
})
