import { describe, expect, it } from 'vitest'
import { Compile } from 'typebox/compile'
import { decodePayload, encodePayload, MAX_TS, MIN_TS, PayloadSchema } from './payload.ts'
import { isQuantity, QUANTITIES } from './quantities.ts'
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

  it('takes its fast path only for what the full schema and quantity check accept', () => {
    // The reference: the schema, then every quantity name and range, as decodePayload documents.
    const schema = Compile(PayloadSchema)
    const reference = (raw: string): string => {
      const v: unknown = JSON.parse(raw)
      if (!schema.Check(v)) return 'CORE_ERR_PAYLOAD_SCHEMA'
      for (const sample of v.samples) {
        for (const [name, value] of Object.entries(sample.values)) {
          if (!isQuantity(name)) return 'CORE_ERR_QUANTITY_UNKNOWN'
          if (value < QUANTITIES[name].min || value > QUANTITIES[name].max) return 'CORE_ERR_VALUE_RANGE'
        }
        for (const name of Object.keys(sample.quality ?? {})) if (!isQuantity(name)) return 'CORE_ERR_QUANTITY_UNKNOWN'
      }
      return 'ok'
    }
    const outcome = (raw: string): string => {
      try {
        decodePayload(raw, { maxBytes: 10_000_000 })
        return 'ok'
      } catch (err) {
        return (err as PlantWattError).code
      }
    }
    const sample = (over: string): string => `{"seq":1,"samples":[${over}]}`
    const cases = [
      sample(`{"ts":${TS},"values":{"active_power_kw":1}}`),
      sample(`{"ts":${TS},"values":{}}`),
      sample(`{"ts":${MIN_TS},"values":{"power_factor":-1}}`),
      sample(`{"ts":${MAX_TS},"values":{"power_factor":1}}`),
      sample(`{"ts":${MIN_TS - 1},"values":{}}`),
      sample(`{"ts":${MAX_TS + 1},"values":{}}`),
      sample(`{"ts":${TS}.5,"values":{}}`),
      sample(`{"ts":"${TS}","values":{}}`),
      sample(`{"ts":${TS}}`),
      sample(`{"values":{}}`),
      sample(`{"ts":${TS},"values":{},"extra":1}`),
      sample(`{"ts":${TS},"values":[]}`),
      sample(`{"ts":${TS},"values":null}`),
      sample(`{"ts":${TS},"values":{"__proto__":1}}`),
      sample(`{"ts":${TS},"values":{"constructor":1}}`),
      sample(`{"ts":${TS},"values":{"toString":1}}`),
      sample(`{"ts":${TS},"values":{"power_factor":1.0000001}}`),
      sample(`{"ts":${TS},"values":{"temperature_c":-273.15}}`),
      sample(`{"ts":${TS},"values":{"active_power_kw":1e400}}`),
      sample(`{"ts":${TS},"values":{"active_power_kw":true}}`),
      sample(`{"ts":${TS},"values":{"active_power_kw":null}}`),
      sample(`{"ts":${TS},"values":{"active_power_kw":1},"quality":{"active_power_kw":"good"}}`),
      sample(`{"ts":${TS},"values":{"active_power_kw":1},"quality":{"active_power_kw":"excellent"}}`),
      sample(`{"ts":${TS},"values":{"active_power_kw":1},"quality":{"watts":"bad"}}`),
      sample(`{"ts":${TS},"values":{"active_power_kw":1},"quality":[]}`),
      sample(`{"ts":${TS},"values":{"active_power_kw":1},"quality":null}`),
      sample(`[]`),
      sample(`null`),
      sample(`{"ts":${TS},"values":{"active_power_kw":1}},{"ts":${TS},"values":{"watts":1}}`),
      `{"seq":1,"samples":[]}`,
      `{"seq":0,"samples":[{"ts":${TS},"values":{}}]}`,
      `{"seq":1.5,"samples":[{"ts":${TS},"values":{}}]}`,
      `{"seq":-1,"samples":[{"ts":${TS},"values":{}}]}`,
      `{"seq":1,"samples":[{"ts":${TS},"values":{}}],"pad":""}`,
      `{"samples":[{"ts":${TS},"values":{}}]}`,
      `{"seq":1,"samples":{}}`,
      `[1,2]`,
      `"text"`,
      `42`,
      `null`,
      `{"seq":1,"samples":[${Array.from({ length: 10_001 }, () => `{"ts":${TS},"values":{}}`).join(',')}]}`,
      `{"seq":1,"samples":[${Array.from({ length: 10_000 }, () => `{"ts":${TS},"values":{}}`).join(',')}]}`,
    ]
    const table = cases.map((raw) => [raw.slice(0, 80), outcome(raw)])
    expect(table).toEqual(cases.map((raw) => [raw.slice(0, 80), reference(raw)]))
    // The cases cover acceptance and every rejection code.
    expect(new Set(table.map((r) => r[1]))).toEqual(new Set(['ok', 'CORE_ERR_PAYLOAD_SCHEMA', 'CORE_ERR_QUANTITY_UNKNOWN', 'CORE_ERR_VALUE_RANGE']))
  })
})
