import { describe, expect, it } from 'vitest'
import { Compile } from 'typebox/compile'
import { decodePayload, encodePayload, findDuplicateKey, MAX_TS, MIN_TS, PayloadSchema } from './payload.ts'
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
    const payload = {
      seq: 7,
      samples: [
        { ts: TS, values: { frequency_hz: 50.01 } },
        { ts: TS + 1000, values: { frequency_hz: 49.98 } },
      ],
    }
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

  it('rejects a key given twice in any object with CORE_ERR_PAYLOAD_DUPLICATE_KEY and its path (JSON.parse would keep the last)', () => {
    const err = (raw: string): { code: string; message: string; path: unknown } => {
      try {
        decodePayload(raw)
      } catch (e) {
        const pe = e as PlantWattError
        return { code: pe.code, message: pe.message, path: (pe.details as { path?: unknown } | undefined)?.path }
      }
      throw new Error(`accepted ${raw}`)
    }
    const s = (values: string, extra = ''): string => `{"ts":${TS},"values":{${values}}${extra}}`
    const cases: [string, string][] = [
      [`{"seq":1,"seq":2,"samples":[${s('')}]}`, 'seq'],
      [`{"seq":1,"samples":[${s('')}],"samples":[${s('"gas_m3":9')}]}`, 'samples'],
      [`{"seq":1,"samples":[${s('"gas_m3":1')},{"ts":${TS + 1},"ts":${TS + 2},"values":{}}]}`, 'samples[1].ts'],
      [`{"seq":1,"samples":[${s('"active_power_kw":1,"frequency_hz":50,"active_power_kw":900')}]}`, 'samples[0].values.active_power_kw'],
      // An escape spells the same key: still a duplicate.
      [`{"seq":1,"samples":[${s('"gas_m3":1,"gas\\u005fm3":2')}]}`, 'samples[0].values.gas_m3'],
      [`{"seq":1,"samples":[${s('"gas_m3":1', ',"quality":{"gas_m3":"good","gas_m3":"bad"}')}]}`, 'samples[0].quality.gas_m3'],
    ]
    for (const [raw, path] of cases) {
      expect(err(raw), raw).toEqual({
        code: 'CORE_ERR_PAYLOAD_DUPLICATE_KEY',
        message: `payload has the key ${path} more than once (JSON.parse would keep only the last)`,
        path,
      })
    }
    // Without the duplicate each of them decodes.
    expect(decodePayload(`{"seq":1,"samples":[${s('"active_power_kw":1,"frequency_hz":50')}]}`).samples[0]?.values).toEqual({
      active_power_kw: 1,
      frequency_hz: 50,
    })
    // Colons inside strings are not keys: no false alarm (the quick count differs, the walk decides).
    expect(codeOf(() => decodePayload(`{"seq":1,"samples":[${s('"gas_m3":1', ',"quality":{"gas_m3":"a:b"}')}]}`))).toBe('CORE_ERR_PAYLOAD_SCHEMA')
  })

  it('findDuplicateKey walks strings, nesting and many keys', () => {
    expect(findDuplicateKey('{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}')).toBeUndefined()
    expect(findDuplicateKey('[{}, "s", {"a":[1,{"b":1,"b":2}]}]')).toBe('[2].a[1].b')
    expect(findDuplicateKey('{"k":"a,\\"b{[:","a":1,"k":2}')).toBe('k')
    expect(findDuplicateKey('"{\\"a\\":1,\\"a\\":2}"')).toBeUndefined()
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]))
    expect(findDuplicateKey(JSON.stringify(many))).toBeUndefined()
    expect(findDuplicateKey(JSON.stringify(many).replace('}', ',"k31":0}'))).toBe('k31')
    // Deep nesting: no recursion, nothing kept.
    expect(findDuplicateKey(`${'['.repeat(50_000)}{"x":1,"x":2}${']'.repeat(50_000)}`)).toBe(`${'[0]'.repeat(50_000)}.x`)
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
