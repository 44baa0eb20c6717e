import { connectAsync } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { statusSamples } from '../api/metrics.ts'
import { validateConfig } from '../core/config.ts'
import { SimCjt188Meter } from '../simulators/cjt188/meter.ts'
import { SimMeter } from '../simulators/dlt645/meter.ts'
import { startFieldLineSimulator } from '../simulators/field-line.ts'
import { startEdgeAgent } from './agent.ts'
import { EdgeConfigSchema } from './config.ts'
import { startTestBroker, waitFor } from './testing/mqtt.ts'
import { emptyWireCounts } from './wire-counts.ts'

/**
 * The DL/T 645 and CJ/T 188 drivers' wire counts reach the user: a running agent's `status()` rows
 * (and so `/health` and the Prometheus metrics) show the bad frames a meter sent.
 */

const opened: { close(): Promise<unknown> }[] = []
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close()
})

describe('wire counts in status()', () => {
  it('a 645 checksum error and a 188 BCD digit out of range are counted in the device rows and the metrics', async () => {
    const electricity = new SimMeter({ address: '000000000645' })
    electricity.setFault({ kind: 'checksum' }, ['0201FF00']) // the three phase voltages
    const water = new SimCjt188Meter({ kind: 'water', address: '00000000000188' })
    water.fault = 'bcd-out-of-range'
    const sim = await startFieldLineSimulator({ dlt645: [electricity], cjt188: [water], tcp: { port: 0 }, replyDelayMs: 1 })
    opened.push(sim)
    const broker = await startTestBroker()
    opened.push(broker)
    const dtu = { transport: 'tcp', host: '127.0.0.1', port: sim.port }
    // One poll each (the first is at start; the next a minute later, after the test).
    const base = { enterprise: 'e', site: 's', line: 'l', pollIntervalMs: 60_000, retries: 0 }
    const config = validateConfig(
      EdgeConfigSchema,
      {
        agentId: 'edge-wire',
        buffer: 'memory',
        devices: [
          { ...base, device: 'meter', driver: 'dlt645', profile: 'dlt645-2007-generic', dlt645: { ...dtu, address: '000000000645', timeoutMs: 3000 } },
          { ...base, device: 'water', driver: 'cjt188', profile: 'cjt188-water', cjt188: { ...dtu, address: '00000000000188', timeoutMs: 3000 } },
        ],
      },
      't',
    )
    const agent = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100 } })
    await waitFor('one poll of each meter', () => agent.status().devices.every((d) => d.reads === 1), 8000)
    const live = statusSamples({ edge: agent.status() }).filter((s) => s.name === 'plantwatt_edge_devices_wire')
    await agent.close()
    const [meter, wm] = agent.status().devices
    // 645: 11 identifiers in a poll; the voltage block's reply has a wrong checksum (no retries): 10 good replies.
    expect(meter?.wire).toEqual({ ...emptyWireCounts(), requests: 11, replies: 10, checksum: 1 })
    // 188: one 901F; its counter's BCD spoilt.
    expect(wm?.wire).toEqual({ ...emptyWireCounts(), requests: 1, replies: 1, bcd: 1 })
    // The device's retained state message carries them too (published at close with status offline).
    const late = await connectAsync(broker.url, { clientId: 'test-wire-state' })
    opened.push({ close: () => late.endAsync(true) })
    const states: Record<string, { counters?: { wire?: unknown } }> = {}
    late.on('message', (topic, payload) => void (states[topic] = JSON.parse(payload.toString('utf8'))))
    await late.subscribeAsync('pw/v1/e/s/l/+/state', { qos: 1 })
    await waitFor('both retained device states', () => states['pw/v1/e/s/l/meter/state'] !== undefined && states['pw/v1/e/s/l/water/state'] !== undefined, 5000)
    expect(states['pw/v1/e/s/l/meter/state']?.counters?.wire).toEqual(meter?.wire)
    expect(states['pw/v1/e/s/l/water/state']?.counters?.wire).toEqual(wm?.wire)
    // The metrics carry the same counters, one series per kind and device.
    const seen = (device: string, key: string) => live.find((s) => s.labels.device === `e/s/l/${device}` && s.labels.key === key)?.value
    expect(seen('meter', 'checksum')).toBe(1)
    expect(seen('meter', 'requests')).toBe(11)
    expect(seen('water', 'bcd')).toBe(1)
    expect(seen('water', 'checksum')).toBe(0)
  })
})
