import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { requireCommand } from './system.ts'

/** A real `influxd` (Debian package influxdb, 1.6.x) on free ports in a temporary folder. */
export interface RunningInfluxd {
  /** http://127.0.0.1:PORT */
  url: string
  /** A database name tests may use (created by the store with createDatabase). */
  database: string
  /** The temporary folder holding config, meta, data and wal. */
  dir: string
  /** The running influxd's process id (for CPU figures in benchmarks); undefined while paused. */
  pid(): number | undefined
  /** Stops the server for good and removes its folder. Safe to call twice. */
  stop(): Promise<void>
  /** Stops the process (SIGTERM), keeping its port and data: for fault tests. */
  pause(): Promise<void>
  /** Starts it again on the same port and data folder; resolves when /ping answers. */
  resume(): Promise<void>
}

const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000

/** A port nobody listens on right now (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function configText(dir: string, httpPort: number, rpcPort: number): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[[graphite]]
  enabled = false
[[collectd]]
  enabled = false
[[opentsdb]]
  enabled = false
[[udp]]
  enabled = false
`
}

async function waitForPing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`influxd exited (${child.exitCode ?? child.signalCode}) before answering /ping: ${output()}`)
    }
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) })
      if (res.status === 204) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`influxd did not answer ${url}/ping within ${START_TIMEOUT_MS} ms: ${output()}`)
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    child.once('exit', () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/**
 * Starts influxd with its HTTP and RPC listeners on free ports (UDP, Graphite, collectd and
 * OpenTSDB off), so several test files can each run their own in parallel. Fails naming the
 * Debian package when influxd is missing and cannot be installed.
 */
export async function startInfluxd(): Promise<RunningInfluxd> {
  requireCommand('influxd', 'influxdb')
  const dir = mkdtempSync(join(tmpdir(), 'pw-influxd-'))
  const configFile = join(dir, 'influxd.conf')
  let child: ChildProcess | undefined
  let log = ''
  let url = ''

  const launch = async (): Promise<void> => {
    log = ''
    const c = spawn('influxd', ['-config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    const keep = (d: Buffer): void => {
      log = (log + d.toString()).slice(-4000)
    }
    c.stdout?.on('data', keep)
    c.stderr?.on('data', keep)
    try {
      await waitForPing(url, c, () => log)
    } catch (err) {
      await stopChild(c)
      throw err
    }
  }

  // Another process may take a "free" port between our probe and influxd's bind: retry with new ones.
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const [httpPort, rpcPort] = [await freePort(), await freePort()]
    url = `http://127.0.0.1:${httpPort}`
    writeFileSync(configFile, configText(dir, httpPort, rpcPort))
    try {
      await launch()
      lastError = undefined
      break
    } catch (err) {
      lastError = err
      if (!/address already in use/.test(log)) break
    }
  }
  if (lastError) {
    rmSync(dir, { recursive: true, force: true })
    throw lastError
  }

  let stopped = false
  return {
    url,
    database: 'plantwatt_test',
    dir,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    async stop() {
      if (stopped) return
      stopped = true
      if (child) await stopChild(child)
      rmSync(dir, { recursive: true, force: true })
    },
    async pause() {
      if (child) await stopChild(child)
    },
    async resume() {
      if (stopped) throw new Error('influxd was stopped for good')
      if (child && child.exitCode === null && child.signalCode === null) return
      await launch()
    },
  }
}
