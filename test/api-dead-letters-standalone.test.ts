import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { stringify as toYaml } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { startBroker } from '../broker/index.ts'
import { startIngest } from '../ingest/index.ts'
import { createStore } from '../storage/index.ts'
import { loadPlantWattConfig } from '../cli/config.ts'

const BIN = join(import.meta.dirname, '..', 'bin', 'plantwatt.js')
const tmp = mkdtempSync(join(tmpdir(), 'pw-api-dl-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const logger = silentLogger()

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

function apiUrlOf(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`no API url within 30 s; stdout: ${out}; stderr: ${err}`)), 30_000)
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const url = /API on (http:\/\/\S+?)\//.exec(out)?.[1]
      if (url) {
        clearTimeout(timer)
        resolve(url)
      }
    })
    child.on('exit', (code) => reject(new Error(`exited with ${code}; stdout: ${out}; stderr: ${err}`)))
  })
}

interface DeadLetters {
  counts: Record<string, number>
  items: { ts: number; reason: string; topic: string; payload: string; payloadBytes: number; source: string }[]
}

describe('a standalone `plantwatt api` serves the dead letters an ingest process writes', () => {
  it('reads ingest.deadLetterFile of the same config: entries, counts per reason, newest first, and what is appended later', async () => {
    const deadLetterFile = join(tmp, 'dead-letters', 'ingest.jsonl')
    const configFile = join(tmp, 'plant.yaml')
    writeFileSync(
      configFile,
      toYaml({
        storage: { backend: 'embedded', path: join(tmp, 'plantwatt.db') },
        api: { host: '127.0.0.1', port: 0 },
        ingest: { deadLetterFile, flushIntervalMs: 50 },
      }),
    )
    const cfg = loadPlantWattConfig(configFile)

    // Ingest and broker as their own processes would run them (here: this test's process).
    const broker = await startBroker({ port: 0 }, { logger })
    const store = await createStore(cfg.storage)
    const ingest = await startIngest({ config: cfg.ingest, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 200 }, store, logger })
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4 })
    const child = spawn(process.execPath, [BIN, 'api', '-c', configFile, '--port', '0'], { stdio: ['pipe', 'pipe', 'pipe'] })
    try {
      await client.publishAsync('pw/v1/acme/wuhan/line-1/meter-1/data', '{"seq": 1, "samples": [', { qos: 1 })
      await waitFor(
        'the first line in the file',
        () => (existsSync(deadLetterFile) && readFileSync(deadLetterFile, 'utf8').endsWith('\n') ? true : undefined),
        10_000,
      )

      const api = await apiUrlOf(child)
      const first = (await (await fetch(`${api}/api/v1/dead-letters`)).json()) as DeadLetters
      expect(first.counts).toEqual({ CORE_ERR_PAYLOAD_JSON: 1 })
      expect(first.items).toHaveLength(1)
      expect(first.items[0]).toMatchObject({
        reason: 'CORE_ERR_PAYLOAD_JSON',
        topic: 'pw/v1/acme/wuhan/line-1/meter-1/data',
        payload: '{"seq": 1, "samples": [',
        payloadBytes: 23,
        source: 'broker',
      })

      // Appended while the API runs: served on the next request, newest first.
      await client.publishAsync(
        'pw/v1/acme/wuhan/line-1/meter-2/data',
        JSON.stringify({ seq: 1, samples: [{ ts: Date.now(), values: { active_power_kw: 'high' } }] }),
        { qos: 1 },
      )
      const second = await waitFor(
        'the second dead letter through the API',
        async () => {
          const body = (await (await fetch(`${api}/api/v1/dead-letters`)).json()) as DeadLetters
          return body.items.length === 2 ? body : undefined
        },
        10_000,
      )
      expect(second.items.map((i) => i.topic)).toEqual(['pw/v1/acme/wuhan/line-1/meter-2/data', 'pw/v1/acme/wuhan/line-1/meter-1/data'])
      const reason = second.items[0]?.reason as string
      expect(reason).toMatch(/^CORE_ERR_PAYLOAD/)
      expect(second.counts).toEqual(reason === 'CORE_ERR_PAYLOAD_JSON' ? { CORE_ERR_PAYLOAD_JSON: 2 } : { CORE_ERR_PAYLOAD_JSON: 1, [reason]: 1 })
      const filtered = (await (await fetch(`${api}/api/v1/dead-letters?reason=${reason}&limit=1`)).json()) as DeadLetters
      expect(filtered.items).toHaveLength(1)
      expect(filtered.items[0]?.topic).toBe('pw/v1/acme/wuhan/line-1/meter-2/data')
    } finally {
      child.kill('SIGTERM')
      await client.endAsync()
      await ingest.close()
      await store.close()
      await broker.close()
    }
  }, 60_000)
})
