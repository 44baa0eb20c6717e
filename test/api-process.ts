/**
 * The PlantWatt API in its own process on an embedded store, for tests that measure it from outside
 * (latency, memory): env PW_API = JSON { dbPath, plant, config } (config: the api section). Prints
 * `{"url": …}` once listening.
 */
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { resolveApiConfig, startApi } from '../api/index.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'

const env = JSON.parse(process.env.PW_API ?? '{}') as { dbPath: string; plant: unknown; config?: Record<string, unknown> }
const store = createEmbeddedStore({ path: env.dbPath })
const api = await startApi({ store, plant: validateConfig(PlantModelSchema, env.plant), config: resolveApiConfig({ port: 0, ...env.config }) })
process.stdout.write(`${JSON.stringify({ url: api.url })}\n`)
process.once('SIGTERM', () => {
  void api
    .close()
    .then(() => store.close())
    .then(() => process.exit(0))
})
