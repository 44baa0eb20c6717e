import { describe, expect, it } from 'vitest'
import { PlantWattError } from '../core/errors.ts'
import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'
import { PacketSizeGuard } from './packet-limit.ts'
import { DEAD_LETTER_COPY_BYTES, deadLetterEnvelope, judgePublish } from './publish-policy.ts'

const opts = { maxPayloadBytes: 1024, validatePayloads: true }
const VALID = Buffer.from(JSON.stringify({ seq: 3, samples: [{ ts: Date.UTC(2025, 0, 6), values: { frequency_hz: 50.01 } }] }))

describe('judgePublish', () => {
  it.each([
    ['pw/v1/acme/wuhan/l1/m1/data', VALID, 'accept', undefined],
    ['pw/v1/acme/wuhan/l1/m1/state', Buffer.from('not validated'), 'accept', undefined],
    ['pw/v1/acme/wuhan/l1/m1/state', Buffer.alloc(0), 'accept', undefined],
    ['pw/v1/acme/wuhan/l1/m1/data', Buffer.from('{"seq":-1,"samples":[]}'), 'divert', 'CORE_ERR_PAYLOAD_SCHEMA'],
    [
      'pw/v1/acme/wuhan/l1/m1/data',
      Buffer.from(JSON.stringify({ seq: 1, samples: [{ ts: Date.UTC(2025, 0, 6), values: { frequency_hz: 5000 } }] })),
      'divert',
      'CORE_ERR_VALUE_RANGE',
    ],
    ['pw/v1/acme/wuhan/l1/m1/alert', Buffer.alloc(1025), 'divert', 'CORE_ERR_PAYLOAD_SIZE'],
    ['pw/v1/acme/wuhan/l1/m1', VALID, 'divert', 'CORE_ERR_TOPIC'],
    ['pw/v1/acme/wuhan/l1/m1/data/extra', VALID, 'divert', 'CORE_ERR_TOPIC'],
    ['pw/anything', VALID, 'divert', 'CORE_ERR_TOPIC'],
    ['$SYS/broker/uptime', VALID, 'reject', 'BROKER_ERR_TOPIC_RESERVED'],
    [DEAD_LETTER_TOPIC, VALID, 'reject', 'BROKER_ERR_TOPIC_RESERVED'],
    ['pwx/v1/acme/wuhan/l1/m1/data', VALID, 'reject', 'BROKER_ERR_TOPIC_NAMESPACE'],
    ['/pw/v1/acme/wuhan/l1/m1/data', VALID, 'reject', 'BROKER_ERR_TOPIC_NAMESPACE'],
  ])('%s → %s', (topic, payload, kind, code) => {
    const verdict = judgePublish(topic, payload, opts)
    expect(verdict.kind).toBe(kind)
    expect(verdict.kind === 'accept' ? undefined : verdict.error.code).toBe(code)
  })

  it('skips payload checks when validatePayloads is off, not topic checks', () => {
    expect(judgePublish('pw/v1/acme/wuhan/l1/m1/data', Buffer.from('nope'), { ...opts, validatePayloads: false }).kind).toBe('accept')
    expect(judgePublish('pw/v1/ACME/wuhan/l1/m1/data', VALID, { ...opts, validatePayloads: false }).kind).toBe('divert')
  })
})

describe('deadLetterEnvelope', () => {
  it('keeps the reason, the original topic and at most 64 KiB of the payload', () => {
    const payload = Buffer.alloc(DEAD_LETTER_COPY_BYTES + 10, 0x7a)
    const letter = deadLetterEnvelope(new PlantWattError('CORE_ERR_PAYLOAD_SIZE', 'too big'), 'pw/v1/a/b/c/d/data', payload, 1_736_121_600_000)
    expect(letter).toEqual({
      ts: 1_736_121_600_000,
      reason: 'CORE_ERR_PAYLOAD_SIZE',
      message: 'too big',
      topic: 'pw/v1/a/b/c/d/data',
      payload: 'z'.repeat(DEAD_LETTER_COPY_BYTES),
      payloadBytes: DEAD_LETTER_COPY_BYTES + 10,
      source: 'broker',
    })
  })
})

/** An MQTT PUBLISH fixed header (QoS 1) announcing `length` remaining bytes. */
function header(length: number): Buffer {
  const bytes = [0x32]
  let n = length
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    bytes.push(b)
  } while (n > 0)
  return Buffer.from(bytes)
}

describe('PacketSizeGuard', () => {
  it('passes packets up to the limit, split anywhere across chunks', () => {
    const guard = new PacketSizeGuard(300)
    const stream = Buffer.concat([header(300), Buffer.alloc(300), header(0), header(127), Buffer.alloc(127), Buffer.from([0xc0, 0x00])])
    expect(() => {
      for (let i = 0; i < stream.length; i += 7) guard.scan(stream.subarray(i, i + 7))
    }).not.toThrow()
    // Byte by byte: the state machine must also survive one-byte chunks, and still catch the next oversize packet.
    const single = new PacketSizeGuard(300)
    expect(() => {
      for (const b of stream) single.scan(Buffer.from([b]))
    }).not.toThrow()
    expect(() => single.scan(header(301))).toThrow(expect.objectContaining({ code: 'BROKER_ERR_PACKET_SIZE' }))
  })

  it('fails on the length bytes of an oversize packet, before its body arrives', () => {
    const guard = new PacketSizeGuard(300)
    guard.scan(Buffer.concat([header(10), Buffer.alloc(10)]))
    expect(() => guard.scan(header(301))).toThrow(expect.objectContaining({ code: 'BROKER_ERR_PACKET_SIZE' }))
  })

  it('fails on a remaining length longer than four bytes', () => {
    const guard = new PacketSizeGuard(Number.MAX_SAFE_INTEGER)
    expect(() => guard.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(expect.objectContaining({ code: 'BROKER_ERR_PACKET_MALFORMED' }))
  })
})
