import { describe, expect, it } from 'vitest'
import type { Logger } from '../core/logger.ts'
import { silentLogger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'
import { PlantWattError } from '../core/errors.ts'
import { createDeadLetterLog } from './dead-letter.ts'
import { DEAD_LETTER_COPY_BYTES, DEAD_LETTER_WARN_INTERVAL_MS, DeadLetterSink } from './dead-letter-sink.ts'

function sink(now: () => number) {
  const warnings: string[] = []
  const logger = { ...silentLogger(), warn: (_obj: unknown, msg: string) => void warnings.push(msg) } as Logger
  return { s: new DeadLetterSink(createDeadLetterLog({ memory: 10 }), logger, now), warnings }
}

describe('DeadLetterSink', () => {
  it('records coded errors with a copy of the payload, and anything else as INGEST_ERR_INTERNAL', () => {
    const { s } = sink(() => 1000)
    const big = Buffer.alloc(DEAD_LETTER_COPY_BYTES + 10, 0x61)
    s.recordError(new PlantWattError('CORE_ERR_TOPIC', 'bad topic'), 'a/b', big)
    s.recordError(new Error('boom'), 'a/b', Buffer.from('x'))
    expect(s.log.list().map((e) => [e.reason, e.source, e.payload.length, e.payloadBytes, e.ts])).toEqual([
      ['INGEST_ERR_INTERNAL', 'ingest', 1, 1, 1000],
      ['CORE_ERR_TOPIC', 'ingest', DEAD_LETTER_COPY_BYTES, DEAD_LETTER_COPY_BYTES + 10, 1000],
    ])
    expect(s.stats()).toEqual({ CORE_ERR_TOPIC: 1, INGEST_ERR_INTERNAL: 1 })
  })

  it("keeps the broker's envelopes as they are and refuses anything else on the dead-letter topic", () => {
    const { s } = sink(() => 5)
    const envelope = { ts: 1, reason: 'CORE_ERR_PAYLOAD_JSON', message: 'm', topic: 'pw/v1/e/s/l/d/data', payload: '{', payloadBytes: 1, source: 'broker' }
    s.recordEnvelope(Buffer.from(JSON.stringify(envelope)))
    s.recordEnvelope(Buffer.from(JSON.stringify({ ...envelope, extra: 1 })))
    s.recordEnvelope(Buffer.from('not json'))
    expect(s.log.list().reverse()[0]).toEqual(envelope)
    expect(s.stats()).toEqual({ CORE_ERR_PAYLOAD_JSON: 1, INGEST_ERR_DEAD_LETTER_ENVELOPE: 2 })
    expect(s.log.list()[0]?.topic).toBe(DEAD_LETTER_TOPIC)
  })

  it('warns once per reason per interval', () => {
    let now = 1_764_000_000_000
    const { s, warnings } = sink(() => now)
    for (let i = 0; i < 5; i++) s.recordError(new PlantWattError('CORE_ERR_TOPIC', 'bad'), 't', Buffer.from(''))
    s.recordError(new PlantWattError('CORE_ERR_PAYLOAD_JSON', 'json'), 't', Buffer.from(''))
    now += DEAD_LETTER_WARN_INTERVAL_MS
    s.recordError(new PlantWattError('CORE_ERR_TOPIC', 'bad'), 't', Buffer.from(''))
    expect(warnings).toEqual(['dead letter: bad', 'dead letter: json', 'dead letter: bad'])
    expect(s.stats().CORE_ERR_TOPIC).toBe(6)
  })
})
