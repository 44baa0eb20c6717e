import type { ApiConfig } from './config.ts'
import { build, type BuildOptions } from './app.ts'

export { build, type BuildOptions } from './app.ts'
export { ApiConfigSchema, resolveApiConfig, type ApiConfig } from './config.ts'
export { API_ERRORS, type ApiErrorCode } from './errors.ts'

export interface RunningApi {
  /** Base URL, e.g. http://127.0.0.1:8080 (no trailing slash). */
  url: string
  /** The port bound (the free one chosen when config.port is 0). */
  port: number
  close(): Promise<void>
}

/** Builds the API and listens on config.host:config.port. Does not close the store: its owner does. */
export async function startApi(opts: Omit<BuildOptions, 'config'> & { config: ApiConfig }): Promise<RunningApi> {
  const app = await build(opts)
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
  return { url: `http://${urlHost}:${port}`, port, close: () => app.close() }
}
