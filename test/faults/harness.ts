import mqtt, { type MqttClient } from 'mqtt'
import { expect } from 'vitest'
import { encodePayload } from '../../core/payload.ts'
import { buildTopic } from '../../core/topic.ts'
import { TELEMETRY_MEASUREMENT } from '../../storage/store.ts'

export const ENTERPRISE = 'fault'
export const T0 = Date.UTC(2025, 0, 1)

/** Steady QoS 1 telemetry, one message (one sample) per device per tick, seq 0, 1, 2 … per device. */
export interface Load {
  /** Seqs the broker acknowledged, per device. */
  acked: Map<string, number[]>
  /** Messages handed to the client (acknowledged or not yet). */
  sent(): number
  /** Stops sending and waits (≤ timeoutMs) until every message sent was acknowledged. */
  stop(timeoutMs?: number): Promise<void>
}

export interface LoadOptions {
  url: string
  devices: number
  /** Ticks per second (each tick: one message per device). */
  ticksPerS: number
  clientId?: string
}

/**
 * Publishes like an edge agent with an outbox: a message stays pending until its PUBACK and is sent
 * again on a fresh connection after any disconnect. (mqtt.js' own resend of its outgoing store after
 * a reconnect trickles at one message per new publish, mqtt 5.16: not what an outbox does.)
 */
export async function startLoad(opts: LoadOptions): Promise<Load> {
  const acked = new Map<string, number[]>()
  const pending = new Map<string, { topic: string; payload: Buffer; device: string; seq: number }>()
  let sent = 0
  let tick = 0
  let stopped = false
  let client: MqttClient | undefined
  const clientId = opts.clientId ?? `load-${process.pid}`
  const devices = Array.from({ length: opts.devices }, (_, d) => `m${d}`)

  const send = (c: MqttClient, key: string): void => {
    const m = pending.get(key)
    if (!m) return
    c.publishAsync(m.topic, m.payload, { qos: 1 }).then(
      () => {
        if (!pending.delete(key)) return
        const list = acked.get(m.device) ?? []
        list.push(m.seq)
        acked.set(m.device, list)
      },
      () => undefined, // sent again on the next connection
    )
  }
  const connectLoop = async (): Promise<void> => {
    while (!stopped) {
      try {
        const c = await mqtt.connectAsync(opts.url, { clientId, clean: true, reconnectPeriod: 0, connectTimeout: 2000 })
        client = c
        c.once('close', () => {
          client = undefined
          c.end(true)
          if (!stopped) void connectLoop()
        })
        for (const key of [...pending.keys()]) send(c, key)
        return
      } catch {
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }
  await connectLoop()
  const timer = setInterval(() => {
    for (const [d, device] of devices.entries()) {
      const seq = tick
      const payload = encodePayload({ seq, samples: [{ ts: T0 + seq * 1000, values: { active_power_kw: 100 + d, energy_import_kwh: 1000 + seq } }] })
      const topic = buildTopic({ enterprise: ENTERPRISE, site: 's1', line: 'l1', device }, 'data')
      const key = `${device}/${seq}`
      pending.set(key, { topic, payload, device, seq })
      sent++
      if (client) send(client, key)
    }
    tick++
  }, 1000 / opts.ticksPerS)
  return {
    acked,
    sent: () => sent,
    async stop(timeoutMs = 30_000) {
      clearInterval(timer)
      const deadline = Date.now() + timeoutMs
      while (pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      stopped = true
      const left = pending.size
      await client?.endAsync(true)
      if (left > 0) throw new Error(`${left} messages still unacknowledged after ${timeoutMs} ms`)
    },
  }
}

/** Every stored `seq` per device: one entry per stored point (InfluxQL on the real influxd). */
export async function storedSeqs(influxUrl: string, database: string): Promise<Map<string, number[]>> {
  const q = `SELECT "seq" FROM "${TELEMETRY_MEASUREMENT}" WHERE "enterprise" = '${ENTERPRISE}' GROUP BY "device"`
  const res = await fetch(`${influxUrl}/query?db=${encodeURIComponent(database)}&q=${encodeURIComponent(q)}`)
  const body = (await res.json()) as { results: { series?: { tags: { device: string }; values: [string, number][] }[] }[] }
  const out = new Map<string, number[]>()
  for (const s of body.results[0]?.series ?? [])
    out.set(
      s.tags.device,
      s.values.map((v) => v[1]),
    )
  return out
}

/** Waits until the store holds as many points as were acknowledged, then checks every (device, seq) once. */
export async function expectExactlyOnce(load: Load, influxUrl: string, database: string, timeoutMs = 30_000): Promise<number> {
  const expected = [...load.acked.values()].reduce((n, s) => n + s.length, 0)
  const deadline = Date.now() + timeoutMs
  let stored = await storedSeqs(influxUrl, database)
  const count = (m: Map<string, number[]>): number => [...m.values()].reduce((n, s) => n + s.length, 0)
  while (count(stored) < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    stored = await storedSeqs(influxUrl, database)
  }
  const sorted = (m: Map<string, number[]>): Record<string, number[]> =>
    Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, [...v].sort((x, y) => x - y)]))
  // Same devices, same seqs, each exactly once: nothing lost, nothing counted twice.
  expect(sorted(stored)).toEqual(sorted(load.acked))
  return expected
}
