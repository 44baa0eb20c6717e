import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'
import { SAMPLE_SLOTS } from '../core/payload-scan.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { blockPoints } from '../storage/sample-block.ts'
import { IngestConfigSchema, type IngestConfig } from './config.ts'
import { createDeadLetterLog } from './dead-letter.ts'
import { DeadLetterSink } from './dead-letter-sink.ts'
import { MessageDecoder, type MessageDecoderOptions } from './message-decoder.ts'
import { RecentSamples } from './recent-samples.ts'
import { partitionOf } from './telemetry.ts'

const T0 = Date.UTC(2025, 0, 6)
const TOPIC = 'pw/v1/hb-steel/wuhan/rolling-1/main-meter/data'
const TAGS = { enterprise: 'hb-steel', site: 'wuhan', line: 'rolling-1', device: 'main-meter' }
const payload = (seq: number, samples: unknown[]): Buffer => Buffer.from(JSON.stringify({ seq, samples }))

function decoder(over: Partial<Omit<MessageDecoderOptions, 'config'>> & { config?: Record<string, unknown> } = {}): {
  d: MessageDecoder
  sink: DeadLetterSink
} {
  const sink = new DeadLetterSink(createDeadLetterLog({ memory: 100 }), silentLogger())
  const config = validateConfig(IngestConfigSchema, over.config ?? {}) as IngestConfig
  const window = 'window' in over ? over.window : new RecentSamples(10_000)
  return { d: new MessageDecoder({ blocks: true, ...over, config, window, sink }), sink }
}

describe('MessageDecoder', () => {
  it('gives a plain payload as a block of the scanner: the device tags, seq, one slot run per sample', () => {
    const { d, sink } = decoder()
    const taken = d.take(
      TOPIC,
      payload(7, [
        { ts: T0, values: { active_power_kw: 412.5 } },
        { ts: T0 + 1000, values: {} },
      ]),
    )
    expect(taken.points).toEqual([])
    expect(taken.samples).toBe(2)
    const block = taken.block
    expect(block).toMatchObject({ measurement: 'telemetry', tags: TAGS, seq: 7, samples: 2 })
    expect(block && blockPoints(block).map((p) => [p.ts - T0, p.fields])).toEqual([
      [0, { active_power_kw: 412.5, seq: 7 }],
      [1000, { seq: 7 }],
    ])
    // The next message's slots follow in the same slab.
    const next = d.take(TOPIC, payload(8, [{ ts: T0 + 2000, values: { gas_m3: 1 } }]))
    expect(next.block?.slots).toBe(block?.slots)
    expect(next.block?.from).toBe((block?.from ?? 0) + 2 * SAMPLE_SLOTS)
    expect(sink.stats()).toEqual({})
  })

  it('gives points for what the scanner declines (quality), and for a store without blocks', () => {
    const quality = payload(3, [{ ts: T0, values: { active_power_kw: 5, power_factor: 0.2 }, quality: { power_factor: 'bad' } }])
    const taken = decoder().d.take(TOPIC, quality)
    expect(taken.block).toBeUndefined()
    expect(taken.points).toEqual([{ measurement: 'telemetry', tags: TAGS, fields: { active_power_kw: 5, seq: 3, q_power_factor: 2 }, ts: T0 }])
    const plain = decoder({ blocks: false, window: undefined }).d.take(TOPIC, payload(4, [{ ts: T0, values: { gas_m3: 2 } }]))
    expect(plain).toMatchObject({ block: undefined, samples: 1, points: [{ fields: { gas_m3: 2, seq: 4 }, ts: T0 }] })
  })

  it('dead-letters what it cannot take, with the reason, and gives nothing to write', () => {
    const { d, sink } = decoder({
      plant: validateConfig(PlantModelSchema, {
        strict: true,
        enterprises: [{ id: 'hb-steel', sites: [{ id: 'wuhan', lines: [{ id: 'rolling-1', devices: [{ id: 'main-meter' }] }] }] }],
      }),
    })
    const cases: [string, Buffer][] = [
      [TOPIC, Buffer.from('{"seq": 1, "samples": [')],
      ['pw/v1/hb-steel/wuhan/rolling-1/main-meter/state', payload(1, [])],
      ['pw/v1/hb-steel/wuhan/rolling-1/ghost/data', payload(1, [{ ts: T0, values: { gas_m3: 1 } }])],
      [DEAD_LETTER_TOPIC, Buffer.from('{"forged":true}')],
      [
        DEAD_LETTER_TOPIC,
        Buffer.from(JSON.stringify({ ts: T0, reason: 'CORE_ERR_TOPIC', message: 'm', topic: 't', payload: 'p', payloadBytes: 1, source: 'broker' })),
      ],
    ]
    for (const [topic, p] of cases) expect(d.take(topic, p)).toEqual({ points: [], block: undefined, samples: 0 })
    expect(sink.stats()).toEqual({
      CORE_ERR_PAYLOAD_JSON: 1,
      INGEST_ERR_CHANNEL: 1,
      INGEST_ERR_UNKNOWN_DEVICE: 1,
      INGEST_ERR_DEAD_LETTER_ENVELOPE: 1,
      CORE_ERR_TOPIC: 1,
    })
    expect(sink.log.list()[0]).toMatchObject({ source: 'broker', reason: 'CORE_ERR_TOPIC' })
  })

  it('skips devices of other partitions, and the broker dead letters on partitions other than 0', () => {
    const other = 1 - partitionOf('hb-steel/wuhan/rolling-1/main-meter', 2)
    const { d, sink } = decoder({ config: { partition: { index: other, count: 2 } } })
    expect(d.take(TOPIC, payload(1, [{ ts: T0, values: { gas_m3: 1 } }])).samples).toBe(0)
    expect(d.take(DEAD_LETTER_TOPIC, Buffer.from('{}')).samples).toBe(0)
    // Partition 0 keeps the broker's dead letters (this one is no envelope), the others skip them.
    expect(d.skipped).toBe(other === 0 ? 1 : 2)
    expect(sink.stats()).toEqual(other === 0 ? { INGEST_ERR_DEAD_LETTER_ENVELOPE: 1 } : {})
  })

  it('takes a conflicting sample out of the block, keeps its new fields as a point without seq, and dead-letters it', () => {
    const { d, sink } = decoder()
    d.take(
      TOPIC,
      payload(1, [
        { ts: T0, values: { active_power_kw: 1 } },
        { ts: T0 + 1000, values: { active_power_kw: 2 } },
      ]),
    )
    const again = d.take(
      TOPIC,
      payload(2, [
        { ts: T0, values: { active_power_kw: 9, gas_m3: 4 } },
        { ts: T0 + 1000, values: { active_power_kw: 2.0 } },
        { ts: T0 + 2000, values: { active_power_kw: 3 } },
      ]),
    )
    expect(again.samples).toBe(2)
    expect(again.block && blockPoints(again.block).map((p) => p.ts - T0)).toEqual([1000, 2000])
    expect(again.points).toEqual([{ measurement: 'telemetry', tags: TAGS, fields: { gas_m3: 4 }, ts: T0 }])
    expect(d.conflicts).toBe(1)
    expect(sink.stats()).toEqual({ INGEST_ERR_SAMPLE_CONFLICT: 1 })
    expect(sink.log.list()[0]?.message).toContain('active_power_kw stored 1, refused 9')
    // All samples conflicting: no block at all.
    expect(d.take(TOPIC, payload(3, [{ ts: T0 + 2000, values: { active_power_kw: 4 } }])).block).toBeUndefined()
  })

  it('without a window (a store that tells conflicts itself) passes every sample on', () => {
    const { d } = decoder({ window: undefined, blocks: false })
    d.take(TOPIC, payload(1, [{ ts: T0, values: { gas_m3: 1 } }]))
    expect(d.take(TOPIC, payload(2, [{ ts: T0, values: { gas_m3: 2 } }])).points).toHaveLength(1)
    expect(d.conflicts).toBe(0)
  })
})
