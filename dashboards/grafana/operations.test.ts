/**
 * The operations dashboard against real parts: `plantwatt up` (the demo config: simulated meters,
 * broker, ingest, edge agent, alerts, API) scraped by a real Prometheus (Debian package
 * `prometheus`), and every panel's PromQL asked of that Prometheus: each must parse and return
 * series with numbers — a metric name that PlantWatt does not expose returns nothing and fails.
 * A malformed payload is published first so that the dead-letter series exist.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../test/influxd.ts'
import { OPERATIONS_PANELS, buildOperationsDashboard } from './operations.ts'

const BIN = fileURLToPath(new URL('../../bin/plantwatt.js', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'pw-ops-'))
const children: ChildProcess[] = []
let prometheusUrl = ''

function readyLines(child: ChildProcess, until: (lines: string[]) => boolean, what: string, timeoutMs: number): Promise<string[]> {
  const lines: string[] = []
  let err = ''
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready within ${timeoutMs} ms: ${err}`)), timeoutMs)
    let buf = ''
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      const parts = buf.split('\n')
      buf = parts.pop() ?? ''
      lines.push(...parts)
      if (until(lines)) {
        clearTimeout(timer)
        resolve(lines)
      }
    })
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}: ${err}`)))
  })
}

async function promQuery(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
  const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } }
  if (body.status !== 'success') throw new Error(`PromQL ${expr}: ${body.error}`)
  return body.data?.result ?? []
}

beforeAll(async () => {
  if (spawnSync('prometheus', ['--version']).error) throw new Error('prometheus is not installed: apt-get install prometheus (Debian package "prometheus")')
  const up = spawn(process.execPath, [BIN, 'up', '--api-port', '0', '--broker-port', '0', '--store-path', join(dir, 'pw.db')], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(up)
  const lines = await readyLines(up, (l) => l.some((x) => x.startsWith('Press Ctrl-C')), 'plantwatt up', 90_000)
  const apiUrl =
    lines
      .find((x) => x.trim().startsWith('Web UI'))
      ?.trim()
      .split(/\s+/)
      .pop()
      ?.replace(/\/$/, '') ?? ''
  const brokerUrl =
    lines
      .find((x) => x.trim().startsWith('MQTT broker'))
      ?.trim()
      .split(/\s+/)
      .pop() ?? ''
  // a malformed payload: the dead-letter series must exist for their panel
  const client = await mqtt.connectAsync(brokerUrl, { clientId: 'ops-test', reconnectPeriod: 0 })
  await client.publishAsync('pw/v1/demo/site/line/nobody/data', 'not json', { qos: 1 }).catch(() => undefined)
  await client.endAsync()

  const promPort = await freePort()
  const target = new URL(apiUrl)
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: plantwatt\n    metrics_path: /api/v1/metrics\n    static_configs:\n      - targets: ['${target.host}']\n`,
  )
  const prom = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  children.push(prom)
  prometheusUrl = `http://127.0.0.1:${promPort}`
  // enough scrapes for the 2-minute derivatives to have two points, and the target up
  const deadline = Date.now() + 60_000
  for (;;) {
    const upSeries = await promQuery('up{job="plantwatt"}').catch(() => [])
    const samples = await promQuery('count_over_time(plantwatt_broker_clients[1m])').catch(() => [])
    if (upSeries[0]?.value[1] === '1' && Number(samples[0]?.value[1] ?? 0) >= 5) break
    if (Date.now() > deadline) throw new Error('prometheus did not scrape plantwatt up 5 times within 60 s')
    await new Promise((r) => setTimeout(r, 1000))
  }
}, 180_000)

afterAll(async () => {
  for (const c of children.reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGINT')
      await once(c, 'exit')
    }
  }
  rmSync(dir, { recursive: true, force: true })
})

describe('operations dashboard against plantwatt up and a real Prometheus', () => {
  const targets = OPERATIONS_PANELS.flatMap((p) => p.targets.map((t) => [`${p.row} › ${p.title} › ${t.expr}`, t.expr] as const))

  it.each(targets)('%s returns series with numbers', async (_name, expr) => {
    const result = await promQuery(expr)
    expect(result.length).toBeGreaterThan(0)
    for (const r of result) expect(Number.isFinite(Number(r.value[1]))).toBe(true)
  })

  it('the edge agent reports its devices and the broker its clients (values, not only names)', async () => {
    const connected = await promQuery('sum(plantwatt_edge_devices_connected)')
    expect(Number(connected[0]?.value[1])).toBeGreaterThan(0)
    const clients = await promQuery('sum(plantwatt_broker_clients)')
    expect(Number(clients[0]?.value[1])).toBeGreaterThanOrEqual(2) // at least ingest and the edge agent
    const deadLetters = await promQuery('sum(plantwatt_ingest_dead_lettered) + sum(plantwatt_broker_diverted)')
    expect(Number(deadLetters[0]?.value[1])).toBeGreaterThanOrEqual(1)
  })

  it('every panel of the built dashboard uses the provisioned Prometheus data source', () => {
    const { dashboard } = buildOperationsDashboard('Asia/Shanghai')
    const panels = (dashboard.panels ?? []).filter((p) => p.type !== 'row') as { targets?: { datasource?: { uid?: string }; expr?: string }[] }[]
    expect(panels).toHaveLength(OPERATIONS_PANELS.length)
    for (const p of panels) for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('plantwatt-prometheus')
  })
})
