import { afterAll, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/logger.ts'
import { MqttClientConfigSchema } from '../../core/mqtt.ts'
import { IngestConfigSchema, startIngest } from '../../ingest/index.ts'
import { createInfluxStore } from '../../storage/index.ts'
import { startScript, type ChildScript } from '../child.ts'
import { startInfluxd, type RunningInfluxd } from '../influxd.ts'
import { startRedis, type RunningRedis } from '../redis.ts'
import { expectExactlyOnce, startLoad } from './harness.ts'

let influx: RunningInfluxd | undefined
let redis: RunningRedis | undefined
let broker: ChildScript | undefined
afterAll(async () => {
  await broker?.kill('SIGKILL')
  await redis?.stop()
  await influx?.stop()
})

// The broker keeps sessions in Redis (aedes-persistence-redis): what it had queued for ingest's
// persistent session outlives the process. With in-memory persistence a SIGKILL loses that queue.
it('fault 2: broker killed with SIGKILL under load and restarted — every (device, seq) stored exactly once', async () => {
  ;[influx, redis] = await Promise.all([startInfluxd(), startRedis()])
  const db = 'fault_broker_kill'
  const brokerEnv = (port: number): Record<string, string> => ({
    PW_BROKER_CONFIG: JSON.stringify({ port, cluster: { redisUrl: redis?.url, brokerId: 'solo' } }),
  })
  broker = await startScript('broker-process.ts', brokerEnv(0))
  const url = broker.ready.url as string
  const port = Number(new URL(url).port)
  const store = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: db, createDatabase: true, timeoutMs: 5000 })
  const ingest = await startIngest({
    config: validateConfig(IngestConfigSchema, { flushIntervalMs: 200 }),
    mqtt: validateConfig(MqttClientConfigSchema, { url, clientId: 'fault-ingest-bk', reconnectPeriodMs: 100 }),
    store,
    logger: silentLogger(),
  })
  try {
    const load = await startLoad({ url, devices: 20, ticksPerS: 20 })
    await new Promise((r) => setTimeout(r, 2500))
    await broker.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 1000))
    broker = await startScript('broker-process.ts', brokerEnv(port))
    await new Promise((r) => setTimeout(r, 3000))
    await load.stop()
    const stored = await expectExactlyOnce(load, influx.url, db)
    expect(stored).toBeGreaterThan(20 * 20 * 5)
  } finally {
    await ingest.close()
    await store.close()
  }
})
