import { connectAsync, type MqttClient } from 'mqtt'
import { decodePayload, type UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js'
import { afterEach, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import type { DeviceEntry } from '../device-table.ts'
import { createMemoryOutbox } from '../outbox.ts'
import { startTestBroker, waitFor } from '../testing/mqtt.ts'
import { sparkplugIdentity } from './config.ts'
import { SparkplugEdgeNode } from './node.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const meter = { enterprise: 'acme', site: 'wuhan', line: 'rolling-1', device: 'main-meter' }
const T0 = Date.UTC(2026, 11, 1)

describe('Sparkplug edge node', () => {
  it('carries quality as the Quality property: bad as null with 0, uncertain with 64, good without', async () => {
    const broker = await startTestBroker()
    cleanups.push(() => broker.close())
    const outbox = createMemoryOutbox({ maxSamples: 100 })
    const node = new SparkplugEdgeNode({
      identity: sparkplugIdentity({ groupId: 'acme', devices: [] }, 'edge-q', [meter]),
      outbox,
      maxSamplesPerMessage: 10,
      logger: silentLogger(),
      onDelivered: () => undefined,
      onFailed: () => undefined,
    })
    const watcher = await connectAsync(broker.url, { clientId: 'w', reconnectPeriod: 0 })
    cleanups.push(() => watcher.endAsync(true))
    const seen: { topic: string; payload: UPayload }[] = []
    watcher.on('message', (topic, payload) => seen.push({ topic, payload: decodePayload(payload) }))
    await watcher.subscribeAsync('spBv1.0/#')
    const client: MqttClient = await connectAsync(broker.url, node.clientOptions({ clientId: 'edge-q', reconnectPeriod: 0 }))
    cleanups.push(() => client.endAsync(true))
    node.attach(client).announceAll()
    outbox.push(meter, { ts: T0, values: { active_power_kw: 4.5, voltage_l1_v: 230 }, quality: { voltage_l1_v: 'uncertain', power_factor: 'bad' } })
    node.schedule()
    const isData = (s: { topic: string }) => s.topic === 'spBv1.0/acme/DDATA/edge-q/main-meter'
    await waitFor('DDATA', () => seen.some(isData))
    const ddata = seen.find(isData) as (typeof seen)[number]
    const dbirth = seen.find((s) => s.topic === 'spBv1.0/acme/DBIRTH/edge-q/main-meter')
    const alias = new Map(dbirth?.payload.metrics?.map((m) => [Number(m.alias), m.name]))
    const byName = Object.fromEntries(
      (ddata.payload.metrics ?? []).map((m) => [
        alias.get(Number(m.alias)),
        { value: m.value, quality: m.properties?.Quality?.value, ts: Number(m.timestamp) },
      ]),
    )
    expect(byName).toEqual({
      active_power_kw: { value: 4.5, quality: undefined, ts: T0 },
      voltage_l1_v: { value: 230, quality: 64, ts: T0 },
      power_factor: { value: null, quality: 0, ts: T0 },
    })
    // The device goes away: DDEATH, with the next seq (NBIRTH 0, DBIRTH 1, DDATA 2).
    node.deviceChanged({ key: 'acme/wuhan/rolling-1/main-meter', address: meter } as DeviceEntry, false)
    await waitFor('DDEATH', () => seen.some((s) => s.topic === 'spBv1.0/acme/DDEATH/edge-q/main-meter'))
    expect(seen.map((s) => [s.topic.split('/')[2], Number(s.payload.seq)])).toEqual([
      ['NBIRTH', 0],
      ['DBIRTH', 1],
      ['DDATA', 2],
      ['DDEATH', 3],
    ])
    // Units in the birth, as metric properties.
    expect(dbirth?.payload.metrics?.map((m) => [m.name, m.properties?.engUnit?.value])).toEqual([
      ['active_power_kw', 'kW'],
      ['voltage_l1_v', 'V'],
      ['power_factor', '1'],
    ])
  })

  it('with a primary host: born only while its STATE says online, NDEATH and data held while offline, the backlog sent historical, a stale STATE ignored', async () => {
    const broker = await startTestBroker()
    cleanups.push(() => broker.close())
    const outbox = createMemoryOutbox({ maxSamples: 100 })
    const node = new SparkplugEdgeNode({
      identity: sparkplugIdentity({ groupId: 'acme', primaryHostId: 'pw-host', devices: [] }, 'edge-h', [meter]),
      outbox,
      maxSamplesPerMessage: 10,
      logger: silentLogger(),
      onDelivered: () => undefined,
      onFailed: () => undefined,
    })
    const host = await connectAsync(broker.url, { clientId: 'host', reconnectPeriod: 0 })
    cleanups.push(() => host.endAsync(true))
    const seen: { type: string; payload: UPayload }[] = []
    host.on('message', (topic, payload) => seen.push({ type: topic.split('/')[2] ?? '', payload: decodePayload(payload) }))
    await host.subscribeAsync('spBv1.0/acme/#')
    const client: MqttClient = await connectAsync(broker.url, node.clientOptions({ clientId: 'edge-h', reconnectPeriod: 0 }))
    cleanups.push(() => client.endAsync(true))
    node.attach(client).announceAll()
    const state = (online: boolean, timestamp: number) =>
      host.publishAsync('spBv1.0/STATE/pw-host', JSON.stringify({ online, timestamp }), { qos: 1, retain: true })
    const quiet = () => new Promise((r) => setTimeout(r, 300))
    const types = () => seen.map((m) => m.type)

    // Host not heard yet: no birth, the sample stays in the outbox.
    const a = Date.now() - 60_000
    outbox.push(meter, { ts: a, values: { active_power_kw: 1.5 } })
    node.schedule()
    await quiet()
    expect(types()).toEqual([])
    expect(outbox.depth()).toBe(1)

    // Online: NBIRTH, DBIRTH, then the held sample as historical.
    await state(true, 100)
    await waitFor('first DDATA', () => types().includes('DDATA'))
    expect(types()).toEqual(['NBIRTH', 'DBIRTH', 'DDATA'])
    const first = seen[2]?.payload.metrics?.[0]
    expect([first?.value, Number(first?.timestamp), first?.isHistorical]).toEqual([1.5, a, true])

    // Offline: NDEATH with this session's bdSeq, then nothing while samples arrive.
    await state(false, 200)
    await waitFor('NDEATH', () => types().includes('NDEATH'))
    const b = Date.now()
    outbox.push(meter, { ts: b, values: { active_power_kw: 2.5 } })
    node.schedule()
    await quiet()
    expect(types()).toEqual(['NBIRTH', 'DBIRTH', 'DDATA', 'NDEATH'])
    expect(outbox.depth()).toBe(1)
    const bdSeq = (p: UPayload | undefined) => Number(p?.metrics?.find((m) => m.name === 'bdSeq')?.value)
    expect(bdSeq(seen[3]?.payload)).toBe(bdSeq(seen[0]?.payload))

    // A STATE older than the newest seen (a late will of an earlier host session): ignored.
    await state(true, 150)
    await quiet()
    expect(types()).toHaveLength(4)

    // Back online: births again (seq from 0), the held sample historical.
    await state(true, 300)
    await waitFor('second DDATA', () => types().filter((t) => t === 'DDATA').length === 2)
    expect(types().slice(4)).toEqual(['NBIRTH', 'DBIRTH', 'DDATA'])
    expect(Number(seen[4]?.payload.seq)).toBe(0)
    const second = seen[6]?.payload.metrics?.[0]
    expect([second?.value, Number(second?.timestamp), second?.isHistorical]).toEqual([2.5, b, true])
    expect(outbox.depth()).toBe(0)
  })

  it('edge.sparkplug is checked at start: missing section, unknown device, two devices on one Sparkplug id (EDGE_ERR_CONFIG)', () => {
    const other = { ...meter, line: 'rolling-2' }
    const problem = (f: () => unknown): string => {
      try {
        f()
      } catch (err) {
        if (isPlantWattError(err, 'EDGE_ERR_CONFIG')) return err.message
      }
      return 'no EDGE_ERR_CONFIG'
    }
    expect(problem(() => sparkplugIdentity(undefined, 'a', [meter]))).toBe('edge.publisher is sparkplug but edge.sparkplug (groupId …) is missing')
    expect(problem(() => sparkplugIdentity({ groupId: 'acme', devices: [{ device: 'nope', sparkplugId: 'X' }] }, 'a', [meter, other]))).toBe(
      'edge.sparkplug: 2 problem(s)\n' +
        '  /sparkplug/devices: devices acme/wuhan/rolling-1/main-meter and acme/wuhan/rolling-2/main-meter would both be Sparkplug device "main-meter"\n' +
        '  /sparkplug/devices/0: no device nope in edge.devices',
    )
    const ok = sparkplugIdentity({ groupId: 'acme', devices: [{ line: 'rolling-2', device: 'main-meter', sparkplugId: 'Meter2' }] }, 'edge-a', [meter, other])
    expect(ok.edgeNodeId).toBe('edge-a')
    expect([...ok.deviceIds]).toEqual([
      ['acme/wuhan/rolling-1/main-meter', 'main-meter'],
      ['acme/wuhan/rolling-2/main-meter', 'Meter2'],
    ])
  })
})
