/**
 * PlantWatt ingest in its own process, writing to InfluxDB, for tests that SIGKILL it: env
 * PW_INGEST = JSON { mqttUrl, clientId, influxUrl, database, ingest? (config section) }. Prints
 * `{"ready": true}` once subscribed.
 */
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { MqttClientConfigSchema } from '../core/mqtt.ts'
import { IngestConfigSchema, startIngest } from '../ingest/index.ts'
import { createInfluxStore } from '../storage/index.ts'

const env = JSON.parse(process.env.PW_INGEST ?? '{}') as { mqttUrl: string; clientId: string; influxUrl: string; database: string; ingest?: unknown }
const store = await createInfluxStore({ backend: 'influxdb', url: env.influxUrl, database: env.database, createDatabase: true, timeoutMs: 10_000 })
const ingest = await startIngest({
  config: validateConfig(IngestConfigSchema, env.ingest ?? {}),
  mqtt: validateConfig(MqttClientConfigSchema, { url: env.mqttUrl, clientId: env.clientId, reconnectPeriodMs: 100 }),
  store,
  logger: silentLogger(),
})
process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
process.once('SIGTERM', () => {
  void ingest
    .close()
    .then(() => store.close())
    .then(() => process.exit(0))
})
