/** What translating Sparkplug DDATA into native payloads costs (prints CPU per message and per metric). */
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js'
import { encodePayload } from 'sparkplug-payload/lib/sparkplugbpayload.js'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { decodePayload } from '../../core/payload.ts'
import { QUANTITY_NAMES } from '../../core/quantities.ts'
import { createDeadLetterLog } from '../dead-letter.ts'
import { DeadLetterSink } from '../dead-letter-sink.ts'
import { SparkplugHost } from './host.ts'

describe('SparkplugHost cost', () => {
  it('20 000 DDATA of 20 aliased Double metrics → 20 000 native payloads, every value carried', () => {
    const names = QUANTITY_NAMES.filter((q) => q !== 'power_factor' && !q.startsWith('power_factor_')).slice(0, 20)
    const logger = silentLogger()
    const host = new SparkplugHost({
      config: {
        groups: ['g'],
        enterprises: { g: 'e' },
        rebirth: 'never',
        rebirthIntervalMs: 0,
        mapping: [
          {
            match: { group: 'g', node: 'n', device: '{d}', metric: '{q}' },
            to: { enterprise: 'e', site: 's', line: 'l', device: '{d}', quantity: '{q}', scale: 1, offset: 0 },
          },
        ],
      },
      sink: new DeadLetterSink(createDeadLetterLog({ memory: 10, logger }), logger),
      publish: () => undefined,
      logger,
    })
    const T = Date.UTC(2026, 0, 1)
    host.take('spBv1.0/g/NBIRTH/n', Buffer.from(encodePayload({ timestamp: T, seq: 0, metrics: [{ name: 'bdSeq', type: 'Int64', value: 0 }] })))
    host.take(
      'spBv1.0/g/DBIRTH/n/m1',
      Buffer.from(encodePayload({ timestamp: T, seq: 1, metrics: names.map((q, i) => ({ name: q, alias: i + 2, type: 'Double', value: 1 })) })),
    )
    const P = proto.org.eclipse.tahu.protobuf.Payload
    const messages = Array.from({ length: 256 }, (_, k) =>
      Buffer.from(
        P.encode(P.create({ timestamp: T, seq: k, metrics: names.map((_, i) => ({ alias: i + 2, timestamp: T + k, doubleValue: 0.5 + i })) })).finish(),
      ),
    )
    const n = 20_000
    let seq = 2
    let values = 0
    const cpu0 = process.cpuUsage()
    for (let k = 0; k < n; k++) {
      const [native] = host.take('spBv1.0/g/DDATA/n/m1', messages[seq] as Buffer)
      if (k === 0 || k === n - 1) values += Object.keys(decodePayload(native?.payload ?? '').samples[0]?.values ?? {}).length
      else if (native !== undefined) values += names.length
      seq = (seq + 1) % 256
    }
    const cpu = process.cpuUsage(cpu0)
    const usPerMessage = (cpu.user + cpu.system) / n
    console.log(
      `SparkplugHost: ${usPerMessage.toFixed(1)} µs CPU per DDATA of ${names.length} metrics (${(usPerMessage / names.length).toFixed(2)} µs per metric)`,
    )
    expect(values).toBe(n * names.length)
    expect(host.stats()).toEqual({ births: 2, deaths: 0, rebirthRequests: 0 })
  })
})
