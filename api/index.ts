/**
 * The HTTP API and web UI (Fastify): one plugin per area under routes/, auth and tenant scope,
 * OpenAPI, live stream, CSV export; the UI's TypeScript in web/src is bundled at start.
 */
import type { ApiConfig } from './config.ts'
import { build, type BuildOptions } from './app.ts'
import { counterRollup, refreshRollup } from '../reports/counter-rollup.ts'

export { build, type BuildOptions } from './app.ts'
export { ApiConfigSchema, resolveApiConfig, type ApiConfig } from './config.ts'
export { API_ERRORS, type ApiErrorCode } from './errors.ts'
export { openDeadLetterFile, type DeadLetterFileOptions } from './dead-letter-file.ts'

export interface RunningApi {
  /** Base URL, e.g. http://127.0.0.1:8080 (no trailing slash). */
  url: string
  /** The port bound (the free one chosen when config.port is 0). */
  port: number
  close(): Promise<void>
}

/** Builds the API and listens on config.host:config.port. Does not close the store: its owner does. */
export async function startApi(opts: Omit<BuildOptions, 'config'> & { config: ApiConfig }): Promise<RunningApi> {
  const rollup = opts.rollup ?? counterRollup()
  const app = await build({ ...opts, rollup })
  try {
    await app.listen({ host: opts.config.host, port: opts.config.port })
  } catch (err) {
    await app.close()
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : opts.config.port
  const host = opts.config.host === '0.0.0.0' || opts.config.host === '::' ? '127.0.0.1' : opts.config.host
  const urlHost = host.includes(':') ? `[${host}]` : host
  // Keep the counter roll-up of closed quarter hours current, so no request pays for a long fill.
  let refreshing = false
  const refresh = async (): Promise<void> => {
    if (refreshing || !opts.plant) return
    refreshing = true
    try {
      await refreshRollup(opts.store, opts.plant, rollup, Date.now())
    } catch (err) {
      app.log.warn({ err }, 'counter roll-up refresh failed; reports read raw data until the next one')
    } finally {
      refreshing = false
    }
  }
  const timers: NodeJS.Timeout[] = []
  if (opts.config.rollupRefreshS > 0) {
    timers.push(setTimeout(() => void refresh(), 10_000).unref(), setInterval(() => void refresh(), opts.config.rollupRefreshS * 1000).unref())
  }
  return {
    url: `http://${urlHost}:${port}`,
    port,
    close: async () => {
      for (const t of timers) clearTimeout(t)
      await app.close()
    },
  }
}
