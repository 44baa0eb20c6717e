import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { SDM630_VALUES, SDM630_WORDS, closeTo } from './testing/sdm630-fixtures.ts'
import { startTestModbusServer } from './testing/modbus-server.ts'
import { startTestBroker, subscribeData, waitFor, type ReceivedData } from './testing/mqtt.ts'

const SCRIPT = fileURLToPath(new URL('./testing/agent-process.ts', import.meta.url))
const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Child {
  proc: ChildProcess
  out: string[]
  exited: Promise<number | null>
}

function startAgentProcess(args: unknown): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const out: string[] = []
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => out.push(...chunk.split('\n').filter(Boolean)))
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    await exited
  })
  return { proc, out, exited }
}

describe('edge agent with the disk buffer: kill -9 and restart', () => {
  it('loses nothing and keeps seq across a SIGKILL during a broker outage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-crash-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const meter = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } } } })
    cleanups.push(() => meter.close())
    const broker = await startTestBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribeData(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const args = {
      config: {
        agentId: 'edge-k',
        buffer: 'disk',
        bufferDir: dir,
        maxSamplesPerMessage: 50,
        devices: [
          {
            enterprise: 'acme',
            site: 'wuhan',
            line: 'l1',
            device: 'meter',
            driver: 'modbus',
            profile: 'eastron-sdm630',
            pollIntervalMs: 20,
            retries: 0,
            connection: { host: '127.0.0.1', port: meter.port, timeoutMs: 300 },
          },
        ],
      },
      mqtt: { url: broker.url, clientId: 'edge-k-test', keepaliveS: 5, reconnectPeriodMs: 100 },
    }
    const pollsDone = () => Math.floor(meter.requests.length / 4) // the SDM630 map is 4 requests per poll

    const first = startAgentProcess(args)
    await waitFor('live data', () => sub.messages.length >= 5, 15_000)
    // Outage: the broker drops the agent and refuses it; the agent keeps polling into the disk buffer.
    broker.stopAccepting()
    broker.drop('edge-k-test')
    const outageFrom = Date.now()
    const pollsAtOutage = pollsDone()
    await waitFor('polls during the outage', () => pollsDone() >= pollsAtOutage + 15)
    first.proc.kill('SIGKILL')
    expect(await first.exited).toBeNull()
    const killedAt = Date.now()
    const pollsBeforeKill = pollsDone()
    await broker.close()

    let subscribed = false
    const again = await startTestBroker(broker.port, (id) => id !== 'edge-k-test' || subscribed)
    cleanups.push(() => again.close())
    const sub2 = await subscribeData(again.url)
    cleanups.push(() => sub2.client.endAsync(true))
    subscribed = true
    const second = startAgentProcess(args)
    const tsAfter = (messages: ReceivedData[], t: number) => messages.some((m) => m.payload.samples.some((s) => s.ts > t))
    await waitFor('live data after the restart', () => tsAfter(sub2.messages, killedAt + 200), 15_000)
    second.proc.kill('SIGTERM')
    expect(await second.exited).toBe(0)
    expect(second.out.at(-1)).toMatch(/^closed \{"depth":0,"dropped":0,/)
    const polls = pollsDone()
    await waitFor(
      'the last messages at the subscriber',
      () => new Set([...sub.messages, ...sub2.messages].flatMap((m) => m.payload.samples.map((s) => s.ts))).size >= polls - 1,
    )

    const all = [...sub.messages, ...sub2.messages]
    for (const m of all) {
      expect(m.topic).toBe('pw/v1/acme/wuhan/l1/meter/data')
      for (const s of m.payload.samples) expect(closeTo(s.values, SDM630_VALUES)).toEqual([])
    }
    // seq: 0, 1, 2 … across both processes; a seq seen twice is the batch in flight at a cut-off
    const seqs = all.map((m) => m.payload.seq)
    const unique = [...new Set(seqs)].sort((a, b) => a - b)
    expect(unique.every((s, i) => s === i)).toBe(true)
    expect(seqs.length - unique.length).toBeLessThanOrEqual(2)
    // every completed poll arrived exactly once after de-duplication by ts; at most the poll cut by
    // SIGKILL between its last reply and its commit is missing
    const bySeq = new Map<number, number[]>()
    for (const m of all)
      bySeq.set(
        m.payload.seq,
        m.payload.samples.map((s) => s.ts),
      )
    const ts = unique.flatMap((s) => bySeq.get(s) ?? [])
    expect(ts).toEqual([...ts].sort((a, b) => a - b))
    expect(new Set(ts).size).toBe(ts.length)
    expect(ts.length).toBeGreaterThanOrEqual(polls - 1)
    expect(ts.length).toBeLessThanOrEqual(polls)
    // the samples taken during the outage came from the disk of the killed process, batched
    const outage = ts.filter((t) => t > outageFrom && t < killedAt)
    expect(outage.length).toBeGreaterThanOrEqual(pollsBeforeKill - pollsAtOutage - 2)
    expect(sub2.messages.some((m) => m.payload.samples.length >= 10)).toBe(true)
  })
})
