/**
 * `--metrics-port` on the commands that run one component alone: the broker run as its own
 * `plantwatt broker` process serves Prometheus text at /metrics, under the names the API's
 * /api/v1/metrics uses when everything runs in one process; and the server's own edges (404, a
 * failing status) answer without stopping anything.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { startMetricsServer } from '../cli/metrics-server.ts'

const BIN = fileURLToPath(new URL('../bin/plantwatt.js', import.meta.url))
const children: ChildProcess[] = []

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null) {
      c.kill('SIGTERM')
      await once(c, 'exit')
    }
  }
})

/** Runs `plantwatt …` and collects stdout lines until `until` matches them all. */
async function runUntil(args: string[], until: (lines: string[]) => boolean, timeoutMs = 30_000): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const lines: string[] = []
  let err = ''
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`plantwatt ${args.join(' ')}: no ready line within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs)
    let buf = ''
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      const parts = buf.split('\n')
      buf = parts.pop() ?? ''
      lines.push(...parts)
      if (until(lines)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => reject(new Error(`plantwatt ${args.join(' ')} exited with ${code}: ${err}`)))
  })
  return { child, lines }
}

describe('metrics of a component running alone', () => {
  it('plantwatt broker --metrics-port serves the broker status as Prometheus gauges that follow its clients', async () => {
    const { lines } = await runUntil(
      ['broker', '--port', '0', '--metrics-port', '0'],
      (l) => l.some((x) => x.startsWith('metrics at ')) && l.some((x) => x.startsWith('broker listening on ')),
    )
    const metricsUrl = lines.find((x) => x.startsWith('metrics at '))?.slice('metrics at '.length) ?? ''
    const brokerUrl = (lines.find((x) => x.startsWith('broker listening on '))?.slice('broker listening on '.length) ?? '').split(', ')[0] ?? ''
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)

    const gauge = async (name: string): Promise<number> => {
      const res = await fetch(metricsUrl)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toContain('text/plain')
      const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `))
      if (!line) throw new Error(`no ${name} in the metrics`)
      return Number(line.split(' ')[1])
    }
    const before = await gauge('plantwatt_broker_clients')
    const client = await mqtt.connectAsync(brokerUrl, { clientId: 'metrics-probe', reconnectPeriod: 0 })
    try {
      await client.publishAsync('pw/v1/acme/s/l/d/data', '{}', { qos: 1 }).catch(() => undefined)
      expect(await gauge('plantwatt_broker_clients')).toBe(before + 1)
    } finally {
      await client.endAsync()
    }
  }, 60_000)

  it('answers 404 on any other path and 500 when the status fails, and keeps serving', async () => {
    let fail = false
    const server = await startMetricsServer({
      port: 0,
      status: () => {
        if (fail) throw new Error('status broke')
        return { ingest: { writtenPoints: 42, deadLetters: { INGEST_ERR_PAYLOAD: 3 } } }
      },
    })
    try {
      const ok = await (await fetch(server.url)).text()
      expect(ok).toContain('plantwatt_ingest_written_points 42')
      expect(ok).toContain('plantwatt_ingest_dead_letters{key="INGEST_ERR_PAYLOAD"} 3')
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404)
      fail = true
      expect((await fetch(server.url)).status).toBe(500)
      fail = false
      expect((await fetch(server.url)).status).toBe(200)
    } finally {
      await server.close()
    }
  })
})
