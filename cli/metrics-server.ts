import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Command, Option } from 'commander'
import { StatusMetrics } from '../api/metrics.ts'
import type { Logger } from '../core/logger.ts'

/** A Prometheus endpoint of a component running alone (broker, ingest, edge agent). */
export interface MetricsServer {
  /** `http://host:port/metrics` */
  readonly url: string
  close(): Promise<void>
}

/** What `--metrics-port` / `--metrics-host` give a command. */
export interface MetricsCliOptions {
  metricsPort?: number
  metricsHost?: string
}

/** Adds `--metrics-port` / `--metrics-host` to a command that runs one component alone. */
export function addMetricsOptions(command: Command): Command {
  for (const option of [
    new Option('--metrics-port <port>', 'serve Prometheus metrics at http://<metrics-host>:<port>/metrics (0 = any free port; default: none)').argParser(
      (v) => {
        const n = Number(v)
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--metrics-port must be a port number 0-65535, got ${v}`)
        return n
      },
    ),
    new Option('--metrics-host <address>', 'address the metrics endpoint listens on').default('127.0.0.1'),
  ])
    command.addOption(option)
  return command
}

/** Something `runUntilSignal` closes. */
interface Closable {
  name: string
  close(): Promise<void>
}

/**
 * With `--metrics-port`: starts the metrics endpoint, prints where it is, and returns `closables`
 * with it first (so it stops before the component it reports on); without: `closables` as given.
 */
export async function withMetrics(opts: MetricsCliOptions, status: () => Record<string, unknown>, logger: Logger, closables: Closable[]): Promise<Closable[]> {
  if (opts.metricsPort === undefined) return closables
  const server = await startMetricsServer({ port: opts.metricsPort, ...(opts.metricsHost ? { host: opts.metricsHost } : {}), status, logger })
  process.stdout.write(`metrics at ${server.url}\n`)
  return [{ name: 'metrics', close: () => server.close() }, ...closables]
}

/**
 * Serves `GET /metrics` (Prometheus text format, prom-client) from `status()` — the same component
 * status the API's `/api/v1/metrics` and `/health` show when everything runs in one process, so a
 * component alone is scraped under the same metric names. Anything else is 404. Status errors give 500
 * and are logged; the server never stops the component.
 */
export async function startMetricsServer(options: {
  port: number
  host?: string
  status: () => Record<string, unknown>
  logger?: Logger
}): Promise<MetricsServer> {
  const metrics = new StatusMetrics(options.status)
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the only path is GET /metrics\n')
      return
    }
    metrics.scrape().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => {
        options.logger?.warn({ err }, 'metrics scrape failed')
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics scrape failed\n')
      },
    )
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
