/** Runs the province service: store, registry, API over HTTPS (or plain HTTP inside one demo process). */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { PlantWattError } from '../core/errors.ts'
import { buildProvinceApp } from './app.ts'
import type { ProvinceConfig } from './config.ts'
import type { UploadAdapter } from './message.ts'
import { EnterpriseRegistry } from './registry.ts'
import { ProvinceStore } from './store.ts'

export interface ProvinceService {
  /** Base URL, e.g. https://127.0.0.1:8443 */
  url: string
  app: FastifyInstance
  store: ProvinceStore
  registry: EnterpriseRegistry
  close(): Promise<void>
}

export interface StartProvinceOptions {
  /** Store file; default `<dataDir>/province.sqlite`. */
  storePath?: string
  now?: () => number
  adapter?: UploadAdapter
  logger?: boolean
}

export async function startProvince(config: Readonly<ProvinceConfig>, opts: StartProvinceOptions = {}): Promise<ProvinceService> {
  const registry = new EnterpriseRegistry(config.enterprises)
  const store = new ProvinceStore({
    path: opts.storePath ?? join(config.dataDir, 'province.sqlite'),
    timezone: config.timezone,
    lateAfterMs: config.quality.lateAfterS * 1000,
  })
  let tls: { cert: Buffer; key: Buffer } | undefined
  if (config.tls) {
    try {
      tls = { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }
    } catch (cause) {
      store.close()
      throw new PlantWattError('PROVINCE_ERR_CONFIG', 'province.tls: cannot read certFile or keyFile', { cause })
    }
  }
  const app = await buildProvinceApp({ config, store, registry, now: opts.now, adapter: opts.adapter, logger: opts.logger, ...(tls ? { https: tls } : {}) })
  const address = await app.listen({ host: config.host, port: config.port })
  return {
    url: address,
    app,
    store,
    registry,
    close: async () => {
      await app.close()
      store.close()
    },
  }
}
