import { describe, expect, it } from 'vitest'
import { decodePayload, encodePayload } from './payload.ts'
import { PlantWattError } from './errors.ts'

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof PlantWattError) return err.code
    throw err
  }
  throw new Error('expected an error')
}

const TS = 1_764_385_200_000

describe('payload', () => {
  it('decodes the documented example exactly', () => {
    const raw = `{"seq": 1042, "samples": [{"ts": ${TS}, "values": {"active_power_kw": 412.5, "energy_import_kwh": 1834021.7}, "quality": {"power_factor": "bad"}}]}`
    const p = decodePayload(raw)
    expect(p.seq).toBe(1042)
    expect(p.samples).toHaveLength(1)
    expect(p.samples[0]?.values.active_power_kw).toBe(412.5)
    expect(p.samples[0]?.values.energy_import_kwh).toBe(1834021.7)
    expect(p.samples[0]?.quality?.power_factor).toBe('bad')
  })

  it('round-trips through encodePayload', () => {
    const payload = { seq: 7, samples: [{ ts: TS, values: { frequency_hz: 50.01 } }, { ts: TS + 1000, values: { frequency_hz: 49.98 } }] }
    expect(decodePayload(encodePayload(payload))).toEqual(payload)
  })

  it('gives one code per kind of bad input', () => {
    expect(codeOf(() => decodePayload('not json {'))).toBe('CORE_ERR_PAYLOAD_JSON')
    expect(codeOf(() => decodePayload(`{"seq":1,"samples":[{"ts":${TS},"values":{"active_power_kw":"412"}}]}`))).toBe('CORE_ERR_PAYLOAD_SCHEMA')
    expect(codeOf(() => decodePayload(`{"seq":-1,"samples":[{"ts":${TS},"values":{}}]}`))).toBe('CORE_ERR_PAYLOAD_SCHEMA')
    expect(codeOf(() => decodePayload(`{"seq":1,"samples":[]}`))).toBe('CORE_ERR_PAYLOAD_SCHEMA')
    expect(codeOf(() => decodePayload(`{"seq":1,"samples":[{"ts":12,"values":{}}]}`))).toBe('CORE_ERR_PAYLOAD_SCHEMA')
    expect(codeOf(() => decodePayload(`{"seq":1,"samples":[{"ts":${TS},"values":{"watts":1}}]}`))).toBe('CORE_ERR_QUANTITY_UNKNOWN')
    expect(codeOf(() => decodePayload(`{"seq":1,"samples":[{"ts":${TS},"values":{"power_factor":1.7}}]}`))).toBe('CORE_ERR_VALUE_RANGE')
    expect(codeOf(() => decodePayload(`{"seq":1,"samples":[{"ts":${TS},"values":{},"quality":{"nope":"bad"}}]}`))).toBe('CORE_ERR_QUANTITY_UNKNOWN')
    expect(codeOf(() => decodePayload(Buffer.alloc(300_000, 0x20)))).toBe('CORE_ERR_PAYLOAD_SIZE')
    expect(codeOf(() => decodePayload('{"seq":1}', { maxBytes: 4 }))).toBe('CORE_ERR_PAYLOAD_SIZE')
  })

  it('names the offending path in schema errors', () => {
    try {
      decodePayload(`{"seq":1,"samples":[{"ts":${TS},"values":{"active_power_kw":"x"}}]}`)
      expect.unreachable()
    } catch (err) {
      expect((err as Error).message).toContain('/samples/0/values/active_power_kw')
    }
  })
})
