import { Point } from '@influxdata/influxdb-client'
import { describe, expect, it } from 'vitest'
import { scanSamples, type SamplesResult } from '../../core/payload-scan.ts'
import type { SampleBlock, TelemetryPoint } from '../store.ts'
import { encodeBlocks, eventLine, linePrefix, toLines } from './line-protocol.ts'

/** The reference: the official client's Point, which PlantWatt used to write with. */
function pointLine(measurement: string, tags: Record<string, string>, fields: Record<string, number | string | boolean>, ts: number): string {
  const p = new Point(measurement)
  for (const [k, v] of Object.entries(tags)) p.tag(k, v)
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'number') p.floatField(k, v)
    else if (typeof v === 'boolean') p.booleanField(k, v)
    else p.stringField(k, v)
  }
  p.timestamp(ts)
  return p.toLineProtocol({ convertTime: (t) => (t === undefined ? undefined : String(t)) }) as string
}

const TS = 1_764_385_200_000
const TAGS: Record<string, string>[] = [{ device: 'm 1', enterprise: 'e,1', line: 'a=b', site: '' }, { 'k y': 'Zürich\tNord', device: '炉' }, {}]

describe('line protocol', () => {
  it('toLines writes what Point writes: tags and fields sorted and escaped, floats, empty tags left out', () => {
    for (const tags of TAGS) {
      const fields = { z_last: 1.5, 'a,b c=d': -0.25, seq: 12, big: 1e21, tiny: 5e-7 }
      expect(toLines([{ measurement: 'tele metry,x', tags, fields, ts: TS }])).toEqual([pointLine('tele metry,x', tags, fields, TS)])
    }
  })

  it('eventLine writes what Point writes for numbers, booleans and text with quotes and backslashes', () => {
    const fields = { message: 'say "hi" \\ bye, a=b', active: true, cleared: false, value: 412.5, count: 3 }
    for (const tags of TAGS) expect(eventLine({ kind: 'alert_event', ts: TS, tags, fields })).toBe(pointLine('alert_event', tags, fields, TS))
  })

  it('encodeBlocks writes for each sample the line toLines writes for its point (numbers as written)', () => {
    const slots = new Float64Array(64)
    const result: SamplesResult = { seq: 0, end: 0, samples: 0 }
    const tags = { device: 'm 1', enterprise: 'e,1' }
    const json = Buffer.from(
      `{ "samples": [ {"values": {"frequency_hz" : 49.95, "active_power_kw":412.50}, "ts": ${TS}}, {"ts":${TS + 1},"values":{}} ], "seq": 9007199254740991 }`,
    )
    expect(scanSamples(json, slots, 5, result)).toBe(1)
    const block: SampleBlock = { measurement: 'telemetry', tags, json, seq: result.seq, slots, from: 5, samples: result.samples }
    const into = { bytes: Buffer.alloc(0) }
    const text = Buffer.from(encodeBlocks([block, block], into)).toString()
    // Written into the caller's buffer, grown once and then reused.
    const grown = into.bytes
    expect(Buffer.from(encodeBlocks([block], into)).toString()).toBe(`${text.slice(0, text.length / 2)}`)
    expect(into.bytes).toBe(grown)
    const prefix = linePrefix('telemetry', tags)
    const lines = [`${prefix} frequency_hz=49.95,active_power_kw=412.50,seq=9007199254740991 ${TS}`, `${prefix} seq=9007199254740991 ${TS + 1}`]
    expect(text).toBe(`${[...lines, ...lines].join('\n')}\n`)
    const points: TelemetryPoint[] = [
      { measurement: 'telemetry', tags, fields: { active_power_kw: 412.5, frequency_hz: 49.95, seq: 9007199254740991 }, ts: TS },
    ]
    expect(toLines(points)[0]).toBe(`${prefix} active_power_kw=412.5,frequency_hz=49.95,seq=9007199254740991 ${TS}`)
  })
})
