import { PerformanceObserver } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { isPlantWattError } from './errors.ts'
import { decodePayload, DEFAULT_MAX_PAYLOAD_BYTES, encodePayload, MAX_TS, MIN_TS, type Payload, type Sample } from './payload.ts'
import { isValidPayloadFast, maxSampleSlots, SAMPLE_SLOTS, type SamplesResult, scanPayload, scanSamples, type ScannedPayload } from './payload-scan.ts'
import { QUANTITIES, QUANTITY_NAMES } from './quantities.ts'
import { mulberry32 } from '../simulators/prng.ts'

const TS = 1_764_385_200_000
const buf = (s: string): Buffer => Buffer.from(s)

function decodes(b: Buffer): Payload | undefined {
  try {
    return decodePayload(b)
  } catch {
    return undefined
  }
}

function rejectionCode(b: Buffer): string | undefined {
  try {
    decodePayload(b)
    return undefined
  } catch (err) {
    return isPlantWattError(err) ? err.code : 'not coded'
  }
}

function parseFields(fields: string): [string, number][] {
  if (fields === '') return []
  return fields.split(',').map((pair) => {
    const eq = pair.indexOf('=')
    return [pair.slice(0, eq), Number(pair.slice(eq + 1))]
  })
}

/** The contract: an accepted scan matches what decodePayload returns, exactly. Returns the mismatches. */
function guaranteeProblems(b: Buffer, r: ScannedPayload): string[] {
  const problems: string[] = []
  let p: Payload
  try {
    p = decodePayload(b)
  } catch (err) {
    return [`decodePayload rejects what the scan accepted: ${(err as Error).message}`]
  }
  if (r.seq !== p.seq) problems.push(`seq ${r.seq} ≠ ${p.seq}`)
  if (r.ts.length !== p.samples.length || r.fields.length !== p.samples.length) problems.push(`${r.ts.length}/${r.fields.length} samples ≠ ${p.samples.length}`)
  p.samples.forEach((s, i) => {
    if (s.quality !== undefined) problems.push(`samples[${i}] has quality`)
    if (r.ts[i] !== s.ts) problems.push(`samples[${i}].ts ${r.ts[i]} ≠ ${s.ts}`)
    const fields = r.fields[i] ?? ''
    const got = parseFields(fields)
    const want = Object.entries(s.values)
    if (got.length !== want.length) problems.push(`samples[${i}]: ${got.length} fields ≠ ${want.length} values`)
    want.forEach(([name, value], j) => {
      const g = got[j]
      if (!g || g[0] !== name || !Object.is(g[1], value)) problems.push(`samples[${i}] field ${j}: ${g?.join('=')} ≠ ${name}=${value}`)
    })
    // Each number is a plain decimal, as written in the JSON.
    if (fields !== '' && !/^[a-z0-9_]+=-?\d+(\.\d+)?(,[a-z0-9_]+=-?\d+(\.\d+)?)*$/.test(fields))
      problems.push(`samples[${i}] fields ${fields} are not plain name=decimal pairs`)
  })
  return problems
}

// ---- scanSamples against decodePayload ------------------------------------------------------

const OFFSETS = [1, 7, 1000]
const samplesResult: SamplesResult = { seq: 0, end: 0, samples: 0 }
const SENTINEL = -7.25
let samplesCase = 0

/**
 * scanSamples records exactly what decodePayload reads when scanPayload accepts (each sample's ts,
 * and a values range whose JSON text parses to its values, members in order) and returns 0
 * otherwise, with room for maxSampleSlots (so never -1); the room it needs is exact: one slot less gives -1.
 */
function checkSamples(b: Uint8Array, r: ScannedPayload | undefined, maxBytes?: number): void {
  const offset = OFFSETS[samplesCase++ % OFFSETS.length] as number
  const bound = maxSampleSlots(b.length)
  const out = new Float64Array(offset + bound).fill(SENTINEL)
  samplesResult.end = samplesResult.samples = -5
  const rc = scanSamples(b, out, offset, samplesResult, maxBytes)
  const label = Buffer.from(b).toString('latin1')
  expect(rc, label).toBe(r === undefined ? 0 : 1)
  expect(
    out.subarray(0, offset).every((x) => x === SENTINEL),
    label,
  ).toBe(true)
  if (r === undefined) return
  const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  const p = decodePayload(text, { maxBytes: b.length })
  expect(samplesResult.seq, label).toBe(p.seq)
  expect(samplesResult.samples, label).toBe(p.samples.length)
  expect(samplesResult.end - offset, label).toBe(p.samples.length * SAMPLE_SLOTS)
  p.samples.forEach((s, i) => {
    const at = offset + i * SAMPLE_SLOTS
    expect(out[at], label).toBe(s.ts)
    const values = text.toString('latin1', out[at + 1], out[at + 2])
    expect(values.startsWith('{') && values.endsWith('}'), label).toBe(true)
    expect(Object.entries(JSON.parse(values) as Record<string, number>), label).toEqual(Object.entries(s.values))
  })
  if (p.samples.length === 0) return
  // Exactly the needed room from offset, then one slot less.
  const need = p.samples.length * SAMPLE_SLOTS
  expect(scanSamples(b, new Float64Array(offset + need), offset, samplesResult, maxBytes), label).toBe(1)
  expect(scanSamples(b, new Float64Array(offset + need - 1), offset, samplesResult, maxBytes), label).toBe(-1)
}

/** Runs the three entry points, checks that they agree and, on acceptance, the guarantee. */
function check(b: Buffer): boolean {
  const r = scanPayload(b)
  expect(isValidPayloadFast(b)).toBe(r !== undefined)
  if (r) expect(guaranteeProblems(b, r), b.toString('latin1')).toEqual([])
  checkSamples(b, r)
  return r !== undefined
}

const sample = (values: string, ts: number | string = TS): string => `{"ts":${ts},"values":{${values}}}`
const payload = (samples: string, seq: number | string = 1): string => `{"seq":${seq},"samples":[${samples}]}`

describe('scanPayload: accepted payloads', () => {
  it('scans a typical payload into exact timestamps and line-protocol fields', () => {
    const raw = payload(
      [
        sample('"active_power_kw":412.5,"energy_import_kwh":1834021.7,"frequency_hz":49.95'),
        sample('"active_power_kw":-3,"energy_import_kwh":1000.0600000000001,"frequency_hz":50', TS + 1000),
      ].join(','),
      1042,
    )
    expect(scanPayload(buf(raw))).toEqual({
      seq: 1042,
      ts: [TS, TS + 1000],
      fields: [
        'active_power_kw=412.5,energy_import_kwh=1834021.7,frequency_hz=49.95',
        'active_power_kw=-3,energy_import_kwh=1000.0600000000001,frequency_hz=50',
      ],
    })
    expect(isValidPayloadFast(buf(raw))).toBe(true)
    check(buf(raw))
  })

  it('accepts what encodePayload writes for the pipeline benchmark', () => {
    const samples: Sample[] = []
    for (let i = 0; i < 10; i++)
      samples.push({
        ts: TS + i * 1000,
        values: { active_power_kw: 100 + (i % 50), energy_import_kwh: 1000 + i * 0.03, frequency_hz: 50 + ((i % 10) - 5) / 100 },
      })
    const b = encodePayload({ seq: 3, samples })
    const r = scanPayload(b)
    expect(r?.seq).toBe(3)
    expect(r?.ts).toEqual(samples.map((s) => s.ts))
    expect(r?.fields[3]).toBe(`active_power_kw=103,energy_import_kwh=${1000 + 3 * 0.03},frequency_hz=${50 + (3 - 5) / 100}`)
    check(b)
  })

  it('accepts whitespace wherever JSON allows it and keys in any order', () => {
    const raw = ` \t\r\n{ "samples" :\n[ { "values" : { "power_factor" : -1 , "temperature_c" : -273.15 } , "ts" : ${TS} } ,{"values":{},"ts":${MIN_TS}}\t] , "seq" : 0 }\n `
    expect(scanPayload(buf(raw))).toEqual({ seq: 0, ts: [TS, MIN_TS], fields: ['power_factor=-1,temperature_c=-273.15', ''] })
    check(buf(raw))
  })

  it('accepts values exactly at the range limits, MAX_TS and the largest safe seq', () => {
    for (const [name, info] of Object.entries(QUANTITIES)) {
      for (const v of [info.min, info.max]) {
        const raw = payload(sample(`"${name}":${v}`, MAX_TS), Number.MAX_SAFE_INTEGER)
        expect(scanPayload(buf(raw))?.fields).toEqual([`${name}=${v}`])
        check(buf(raw))
      }
    }
  })

  it('accepts 10 000 samples', () => {
    const raw = payload(Array.from({ length: 10_000 }, () => sample('"gas_m3":1')).join(','))
    // 10 000 minimal samples exceed the default 256 KiB: both sides get the same larger limit.
    const b = buf(raw)
    expect(decodePayload(b, { maxBytes: b.length }).samples).toHaveLength(10_000)
    expect(scanPayload(b, b.length)?.ts).toHaveLength(10_000)
    expect(isValidPayloadFast(b, b.length)).toBe(true)
    checkSamples(b, scanPayload(b, b.length), b.length)
  })

  it('matches names exactly when the order changes from one sample to the next', () => {
    // The scanner guesses each key from the previous sample's order: prefixes and reorders must not fool it.
    const raw = payload(
      [
        sample('"power_factor_l1":0.5,"power_factor":0.25'),
        sample('"power_factor":0.75,"power_factor_l1":-0.5'),
        sample('"power_factor_l1":1'),
        sample('"power_factor_l2":-1,"power_factor_l1":0,"power_factor":1'),
        sample('"power_factor_l1":0.5,"power_factor_l":0.25'),
      ].join(','),
    )
    const good = buf(raw.slice(0, raw.lastIndexOf(',{')) + ']}')
    expect(scanPayload(good)?.fields).toEqual([
      'power_factor_l1=0.5,power_factor=0.25',
      'power_factor=0.75,power_factor_l1=-0.5',
      'power_factor_l1=1',
      'power_factor_l2=-1,power_factor_l1=0,power_factor=1',
    ])
    check(good)
    expect(scanPayload(buf(raw))).toBeUndefined() // unknown quantity power_factor_l in the last sample
    expect(decodes(buf(raw))).toBeUndefined()
  })

  it('accepts Uint8Array views, not only Buffers', () => {
    const raw = buf(`xx${payload(sample('"gas_m3":2.5'))}yy`)
    const view = new Uint8Array(raw.buffer, raw.byteOffset + 2, raw.length - 4)
    expect(scanPayload(view)).toEqual({ seq: 1, ts: [TS], fields: ['gas_m3=2.5'] })
    expect(isValidPayloadFast(view)).toBe(true)
    checkSamples(view, scanPayload(view))
  })
})

describe('scanPayload: declines', () => {
  const valid = (raw: string): void => {
    expect(decodes(buf(raw)), raw).toBeDefined()
    expect(scanPayload(buf(raw)), raw).toBeUndefined()
    expect(isValidPayloadFast(buf(raw)), raw).toBe(false)
    checkSamples(buf(raw), undefined)
  }

  it('declines valid but unusual payloads (decodePayload decides)', () => {
    valid(payload(sample('"active_power_kw":1e3')))
    valid(payload(sample('"active_power_kw":1E-3')))
    valid(payload(sample('"active_power_kw":-0')))
    valid(payload(sample('"active_power_kw":-0.000')))
    valid(payload(sample('"active_\\u0070ower_kw":1')))
    valid(`{"s\\u0065q":1,"samples":[${sample('"gas_m3":1')}]}`)
    valid(payload(`{"ts":${TS},"values":{"gas_m3":1},"quality":{"gas_m3":"uncertain"}}`))
    valid(payload(sample('"gas_m3":1.000000000000000000001'))) // 22 significant digits
    valid(payload(sample('"gas_m3":0.00000000000000000000001'))) // 23 fraction digits
    valid(payload(sample('"power_factor":1.0000000000000001'))) // 17 digits, rounds to 1: too close to the limit
    valid(payload(sample('"power_factor":-1.00000000000000001')))
    valid(payload(sample('"gas_m3":1'), '1.0'))
    valid(payload(sample('"gas_m3":1'), '1e2'))
    valid(payload(sample('"gas_m3":1', `${TS}.0`)))
    valid(payload(sample('"gas_m3":1'), '9007199254740993')) // above MAX_SAFE_INTEGER, still an integer
  })

  it('declines duplicate keys, which decodePayload rejects with CORE_ERR_PAYLOAD_DUPLICATE_KEY', () => {
    const cases: [string, string][] = [
      [payload(sample('"active_power_kw":1,"active_power_kw":2')), 'samples[0].values.active_power_kw'],
      [`{"seq":1,"seq":2,"samples":[${sample('"gas_m3":1')}]}`, 'seq'],
      [payload(`{"ts":${TS},"ts":${TS},"values":{}}`), 'samples[0].ts'],
      [payload(`{"ts":${TS},"values":{},"values":{"gas_m3":1}}`), 'samples[0].values'],
      [`{"samples":[${sample('"gas_m3":1')}],"seq":1,"samples":[${sample('"gas_m3":2')}]}`, 'samples'],
    ]
    for (const [raw, path] of cases) {
      expect(() => decodePayload(buf(raw)), raw).toThrow(expect.objectContaining({ code: 'CORE_ERR_PAYLOAD_DUPLICATE_KEY', details: { path } }))
      expect(scanPayload(buf(raw)), raw).toBeUndefined()
      expect(isValidPayloadFast(buf(raw)), raw).toBe(false)
      checkSamples(buf(raw), undefined)
    }
  })

  it('declines payloads larger than maxBytes', () => {
    const raw = buf(payload(sample('"gas_m3":1')))
    expect(scanPayload(raw, raw.length - 1)).toBeUndefined()
    expect(isValidPayloadFast(raw, raw.length - 1)).toBe(false)
    expect(scanPayload(raw, raw.length)).toBeDefined()
    expect(isValidPayloadFast(Buffer.alloc(DEFAULT_MAX_PAYLOAD_BYTES + 1, 0x20))).toBe(false)
    checkSamples(raw, undefined, raw.length - 1)
    checkSamples(raw, scanPayload(raw), raw.length)
  })

  it('never accepts an invalid payload', () => {
    const invalid = [
      'not json {',
      '',
      '   ',
      '{}',
      '[]',
      'null',
      payload(sample('"gas_m3":1')).slice(0, -1),
      payload(sample('"gas_m3":1')).slice(0, -3),
      `${payload(sample('"gas_m3":1'))}x`,
      `${payload(sample('"gas_m3":1'))}}`,
      `${payload(sample('"gas_m3":1'))},`,
      payload(sample('"gas_m3":1')).replace('}]', '},]'),
      payload(sample('"gas_m3":1,')),
      payload(sample('"gas_m3":"1"')),
      payload(sample('"gas_m3":true')),
      payload(sample('"gas_m3":null')),
      payload(sample('"gas_m3":[1]')),
      payload(sample('"gas_m3":01')),
      payload(sample('"gas_m3":1.')),
      payload(sample('"gas_m3":.5')),
      payload(sample('"gas_m3":+1')),
      payload(sample('"gas_m3":-')),
      payload(sample('"gas_m3":1..2')),
      payload(sample('"gas_m3":1 2')),
      payload(sample('"gas_m3":NaN')),
      payload(sample('"gas_m3":Infinity')),
      payload(sample('"gas_m3":1e999')),
      payload(sample('"gas_m3":-1')),
      payload(sample('"gas_m3":-0.0001')),
      payload(sample('"gas_m3":1000000000000.0001')),
      payload(sample('"power_factor":1.0000000001')),
      payload(sample('"power_factor":-1.01')),
      payload(sample('"temperature_c":-273.16')),
      payload(sample('"machine_state":4')),
      payload(sample('"watts":1')),
      payload(sample('"gas_m3 ":1')),
      payload(sample('"Gas_m3":1')),
      payload(sample('"gás_m3":1')),
      payload(sample('"gas_m3":1', MIN_TS - 1)),
      payload(sample('"gas_m3":1', MAX_TS + 1)),
      payload(sample('"gas_m3":1', `"${TS}"`)),
      payload(sample('"gas_m3":1', -TS)),
      payload(`{"ts":${TS}}`),
      payload('{"values":{}}'),
      payload(`{"ts":${TS},"values":[]}`),
      payload(`{"ts":${TS},"values":{},"extra":1}`),
      payload(`{"ts":${TS},"values":{"gas_m3":1},"quality":{"gas_m3":"awful"}}`),
      payload('1'),
      payload('[]'),
      payload(''),
      payload(sample('"gas_m3":1'), -1),
      payload(sample('"gas_m3":1'), '1.5'),
      payload(sample('"gas_m3":1'), '"1"'),
      payload(sample('"gas_m3":1'), '01'),
      `{"seq":1}`,
      `{"samples":[${sample('"gas_m3":1')}]}`,
      `{"seq":1,"samples":{}}`,
      `{"seq":1,"samples":[${sample('"gas_m3":1')}],"extra":0}`,
      `{"seq":1 "samples":[${sample('"gas_m3":1')}]}`,
      `{'seq':1,"samples":[${sample('"gas_m3":1')}]}`,
      `\uFEFF${payload(sample('"gas_m3":1'))}`,
      `{"seq\n":1,"samples":[${sample('"gas_m3":1')}]}`,
    ]
    for (const raw of invalid) {
      expect(decodes(buf(raw)), raw).toBeUndefined()
      expect(scanPayload(buf(raw)), raw).toBeUndefined()
      expect(isValidPayloadFast(buf(raw)), raw).toBe(false)
      checkSamples(buf(raw), undefined)
    }
  })

  it('never accepts more than 10 000 samples, whatever maxBytes allows', () => {
    const raw = buf(payload(Array.from({ length: 10_001 }, () => sample('"gas_m3":1')).join(',')))
    expect(() => decodePayload(raw, { maxBytes: 1 << 30 })).toThrow()
    expect(scanPayload(raw, 1 << 30)).toBeUndefined()
    expect(isValidPayloadFast(raw, 1 << 30)).toBe(false)
    checkSamples(raw, undefined, 1 << 30)
  })
})

describe('scanSamples', () => {
  const slots = (raw: string | Buffer, outSlots = 4096, offset = 3): { rc: number; samples: number[][] } => {
    const out = new Float64Array(outSlots)
    const rc = scanSamples(typeof raw === 'string' ? buf(raw) : raw, out, offset, samplesResult)
    const samples: number[][] = []
    if (rc === 1) for (let p = offset; p < samplesResult.end; p += SAMPLE_SLOTS) samples.push(Array.from(out.subarray(p, p + 3)))
    return { rc, samples }
  }
  const prints = (raw: string): number[] => {
    const out = new Float64Array(4096)
    expect(scanSamples(buf(raw), out, 0, samplesResult)).toBe(1)
    return Array.from({ length: samplesResult.samples }, (_, k) => out[k * SAMPLE_SLOTS + 3] as number)
  }

  it('records per sample its ts and the range of its values object, and the seq', () => {
    const raw = payload([sample('"active_power_kw":412.50,"frequency_hz":49.95'), sample('', TS + 1000)].join(','), 9_007_199_254_740_991)
    const first = raw.indexOf('{"active')
    const second = raw.indexOf('{}')
    expect(slots(raw)).toEqual({
      rc: 1,
      samples: [
        [TS, first, raw.indexOf('}', first) + 1],
        [TS + 1000, second, second + 2],
      ],
    })
    expect(samplesResult).toEqual({ seq: 9_007_199_254_740_991, end: 3 + 2 * SAMPLE_SLOTS, samples: 2 })
  })

  it('fingerprints the values: the same text (whitespace aside) alike, another number, text, order or quantity not', () => {
    const values = [
      '"active_power_kw":402,"gas_m3":1.5',
      ' "active_power_kw" : 402 , "gas_m3":1.5 ',
      '"active_power_kw":402.00,"gas_m3":1.5',
      '"gas_m3":1.5,"active_power_kw":402',
      '"active_power_kw":-402,"gas_m3":1.5',
      '"active_power_kw":402,"gas_m3":1.25',
      '"reactive_power_kvar":402,"gas_m3":1.5',
      '',
    ]
    const [same, spaced, ...others] = prints(payload(values.map((v, k) => sample(v, TS + k)).join(',')))
    expect(spaced).toBe(same)
    expect(Number.isInteger(same)).toBe(true)
    expect(new Set([same, ...others]).size).toBe(values.length - 1)
  })

  it('records the same when samples come before seq and ts after values, in one pass', () => {
    const raw = ` { "samples" : [ {"values":{"gas_m3":0.5},"ts":${TS}} , {"values":{ },"ts":${TS + 1}} ] , "seq" : 0 } `
    const a = raw.indexOf('{"gas')
    const b = raw.indexOf('{ }')
    expect(slots(raw)).toEqual({
      rc: 1,
      samples: [
        [TS, a, a + 14],
        [TS + 1, b, b + 3],
      ],
    })
    expect(samplesResult.seq).toBe(0)
    expect(slots(raw, 3 + 2 * SAMPLE_SLOTS).rc).toBe(1)
    expect(slots(raw, 3 + 2 * SAMPLE_SLOTS - 1).rc).toBe(-1)
    // A duplicate seq after the samples is still declined.
    expect(slots(raw.replace('"seq"', '"seq":1,"seq"')).rc).toBe(0)
  })

  it('returns -1 at any offset without room, 0 for undecided payloads that fit, and throws on a bad offset', () => {
    const raw = buf(payload(sample('"gas_m3":1')))
    expect(slots(raw, 100, 100).rc).toBe(-1)
    expect(slots(raw, 4096, 4096).rc).toBe(-1)
    expect(slots(payload(sample('"gas_m3":1e3'))).rc).toBe(0)
    expect(slots(raw, 0, 0).rc).toBe(-1)
    for (const offset of [-1, 1.5, 4097, Number.NaN]) {
      expect(() => slots(raw, 4096, offset)).toThrow(expect.objectContaining({ code: 'CORE_ERR_SAMPLES_OFFSET' }))
    }
    try {
      slots(raw, 10, 11)
    } catch (err) {
      expect(isPlantWattError(err, 'CORE_ERR_SAMPLES_OFFSET')).toBe(true)
    }
  })

  it('maxSampleSlots is a bound, and a close one for the densest payload', () => {
    const raw = buf(payload(Array.from({ length: 10_000 }, () => sample('', MIN_TS)).join(','), 9_007_199_254_740_991))
    const bound = maxSampleSlots(raw.length)
    expect(scanSamples(raw, new Float64Array(bound), 0, samplesResult, raw.length)).toBe(1)
    expect(samplesResult.samples).toBe(10_000)
    expect(samplesResult.end).toBe(bound)
    const small = buf(payload(sample('', MIN_TS)))
    expect(maxSampleSlots(small.length)).toBe(SAMPLE_SLOTS)
    expect(maxSampleSlots(0)).toBe(0)
  })
})

/** GCs while `run` runs: each young-generation GC means at least a semi-space of allocation. */
async function gcsDuring(run: () => void): Promise<number> {
  let gcs = 0
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length
  })
  obs.observe({ entryTypes: ['gc'] })
  run()
  // GC entries are delivered asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50))
  obs.disconnect()
  return gcs
}

describe('allocation', () => {
  const CALLS = 1_000_000
  const one = buf(payload(sample('"active_power_kw":412.5,"energy_import_kwh":1834021.7,"frequency_hz":49.95')))
  const ten = buf(`{"samples":[${Array.from({ length: 10 }, (_, i) => sample('"active_power_kw":-3,"frequency_hz":50.01', TS + i)).join(',')}],"seq":12345}`)
  const out = new Float64Array(1 << 16)

  function samplesLoop(b: Buffer, calls: number): number {
    let offset = 0
    let samples = 0
    const room = maxSampleSlots(b.length)
    for (let k = 0; k < calls; k++) {
      if (out.length - offset < room) offset = 0
      if (scanSamples(b, out, offset, samplesResult) !== 1) return -1
      offset = samplesResult.end
      samples += samplesResult.samples
    }
    return samples
  }

  function validLoop(b: Buffer, calls: number): number {
    let valid = 0
    for (let k = 0; k < calls; k++) if (isValidPayloadFast(b)) valid++
    return valid
  }

  // A GC or two may come from garbage made before the loop (or by the test runner): up to 5 are
  // tolerated; the control below, which allocates ~200 bytes a call, makes about 50.
  it('scanSamples allocates nothing per call (10^6 calls, no more than 5 GCs and < 1 MiB heap growth)', async () => {
    let samples = samplesLoop(one, 100_000) + samplesLoop(ten, 100_000)
    expect(samples).toBe(1_100_000)
    const heapBefore = process.memoryUsage().heapUsed
    const gcs = await gcsDuring(() => {
      samples = samplesLoop(one, CALLS)
    })
    const grown = process.memoryUsage().heapUsed - heapBefore
    expect(samples).toBe(CALLS)
    expect(gcs).toBeLessThanOrEqual(5)
    expect(grown).toBeLessThan(1 << 20)
    // Samples before seq too.
    expect(await gcsDuring(() => (samples = samplesLoop(ten, CALLS / 10)))).toBeLessThanOrEqual(5)
    expect(samples).toBe(CALLS)
  })

  it('isValidPayloadFast allocates nothing per call', async () => {
    expect(validLoop(one, 100_000)).toBe(100_000)
    let valid = 0
    expect(await gcsDuring(() => (valid = validLoop(one, CALLS)))).toBeLessThanOrEqual(5)
    expect(valid).toBe(CALLS)
  })

  it('the GC count does see allocation (the check can fail)', async () => {
    let n = 0
    const gcs = await gcsDuring(() => {
      for (let k = 0; k < CALLS; k++) n += (scanPayload(one) as ScannedPayload).ts.length
    })
    expect(n).toBe(CALLS)
    // ~54 here: an order of magnitude above what the allocation-free loops may see.
    expect(gcs).toBeGreaterThan(20)
  })
})

// ---- Differential fuzz ----------------------------------------------------------------------

const f32 = new Float32Array(1)

function fuzzer(seed: number) {
  const rnd = mulberry32(seed)
  const int = (n: number): number => Math.floor(rnd() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T

  /** A value as an edge device would produce it (JSON.stringify of a double within range). */
  function realisticValue(name: string): number {
    const { min, max } = QUANTITIES[name as keyof typeof QUANTITIES]
    const span = Math.min(max - min, 1e6)
    const lo = Math.max(min, -span / 2)
    switch (int(7)) {
      case 0:
        return Math.round(lo + rnd() * span) // integer register
      case 1:
        return Math.round((lo + rnd() * span) * 100) / 100
      case 2:
        return Math.round(lo + rnd() * span) * 0.1 // scaled register: 230.10000000000002
      case 3:
        f32[0] = lo + rnd() * span // float32 register
        return Math.min(max, Math.max(min, f32[0] as number))
      case 4:
        return lo + rnd() * span // full double
      case 5:
        return pick([min, max, 0, 0.1 + 0.2, 1000 + int(1000) * 0.03, 50 + (int(10) - 5) / 100].filter((v) => v >= min && v <= max))
      default:
        return Math.round((lo + rnd() * span) * 1000) / 1000
    }
  }

  function realisticPayload(): Payload {
    const n = rnd() < 0.3 ? 1 : 1 + int(20)
    const names = QUANTITY_NAMES.filter(() => rnd() < 0.15)
    const t0 = MIN_TS + int(MAX_TS - MIN_TS - 100_000)
    const samples: Sample[] = []
    for (let i = 0; i < n; i++) {
      const values: Record<string, number> = {}
      for (const name of names) if (rnd() < 0.9) values[name] = realisticValue(name)
      samples.push({ ts: t0 + i * 1000, values })
    }
    return { seq: rnd() < 0.1 ? int(10) : int(2 ** 40), samples }
  }

  const WS = [' ', '\n', '\t', '\r', '  ']
  /** Re-serialises with random whitespace and key order (still valid). */
  function reformat(p: Payload): string {
    const ws = (): string => (rnd() < 0.3 ? pick(WS) : '')
    const obj = (members: string[]): string => {
      if (rnd() < 0.5) members.reverse()
      return `{${ws()}${members.map((m) => `${m}${ws()}`).join(`,${ws()}`)}}`
    }
    const member = (k: string, v: string): string => `"${k}"${ws()}:${ws()}${v}`
    const samples = p.samples.map((s) =>
      obj([member('ts', String(s.ts)), member('values', obj(Object.entries(s.values).map(([k, v]) => member(k, String(v)))))]),
    )
    return `${ws()}${obj([member('seq', String(p.seq)), member('samples', `[${ws()}${samples.join(`${ws()},${ws()}`)}${ws()}]`)])}${ws()}`
  }

  const INSERTS = [
    ',',
    '}',
    '{',
    '"',
    ']',
    '[',
    ':',
    '0',
    '7',
    '.',
    'e5',
    'E-2',
    '-',
    ' ',
    '\n',
    '\\',
    '\\u0061',
    'null',
    '1e400',
    '123456789012345678901234',
    '"quality":{},',
    '"x":1,',
  ]
  const BOUNDARY = (): string => {
    const name = pick(QUANTITY_NAMES)
    const { min, max } = QUANTITIES[name]
    const v = pick([min, max, min - 1e-9, max + 1e-9, min - Number.EPSILON * Math.abs(min), max + 1e-7, max * (1 + Number.EPSILON), 0.1 + 0.2])
    return `"${name}":${pick([String(v), v.toFixed(pick([0, 1, 5, 17])), v.toPrecision(pick([15, 16, 17, 21])), v.toExponential(4)])}`
  }

  function mutate(s: string): string {
    switch (int(9)) {
      case 0: {
        const i = int(s.length)
        return s.slice(0, i) + String.fromCharCode(int(128)) + s.slice(i + 1)
      }
      case 1:
        return s.slice(0, int(s.length))
      case 2: {
        const i = int(s.length + 1)
        return s.slice(0, i) + pick(INSERTS) + s.slice(i)
      }
      case 3: {
        // duplicate key: repeat a member right after an object opens
        const i = s.indexOf('{', int(s.length))
        const at = i < 0 ? s.indexOf('{') : i
        return `${s.slice(0, at + 1)}${pick(['"seq":1,', '"samples":[],', `"ts":${TS},`, '"values":{},', '"gas_m3":1,', '"active_power_kw":2,'])}${s.slice(at + 1)}`
      }
      case 4: // an escape inside a key
        return s.replace(/"([a-z_]+)"/, (_m, k: string) => `"${k.slice(0, 1)}\\u00${k.charCodeAt(1).toString(16)}${k.slice(2)}"`)
      case 5: // replace a number by a boundary value / unusual form
        return s.replace(/"[a-z0-9_]+":-?\d+(\.\d+)?(e[-+]?\d+)?/i, () => BOUNDARY())
      case 6: // huge numbers anywhere a number is
        return s.replace(
          /:\s*-?\d+(\.\d+)?/,
          () =>
            `:${pick(['9'.repeat(int(30) + 1), `1${'0'.repeat(int(30))}`, '-1', '1.5', `0.${'0'.repeat(int(25))}1`, '-0', '1e21', '9007199254740993', String(MAX_TS + 1), String(MIN_TS - 1)])}`,
        )
      case 7: {
        // delete a byte
        const i = int(s.length)
        return s.slice(0, i) + s.slice(i + 1)
      }
      default: {
        // swap two bytes
        const i = int(s.length)
        const j = int(s.length)
        const a = s.split('')
        ;[a[i], a[j]] = [a[j] as string, a[i] as string]
        return a.join('')
      }
    }
  }
  return { rnd, int, realisticPayload, reformat, mutate }
}

describe('scanPayload: differential fuzz against decodePayload', () => {
  it('accepts ≥ 95 % of plain valid payloads and never accepts what decodePayload rejects', () => {
    const fz = fuzzer(0x5eed)
    let plain = 0
    let plainAccepted = 0
    let mutated = 0
    let mutatedValid = 0
    let mutatedAccepted = 0
    let mutatedDuplicate = 0
    for (let k = 0; k < 24_000; k++) {
      const p = fz.realisticPayload()
      if (k % 3 === 0) {
        const b = k % 2 === 0 ? encodePayload(p) : buf(fz.reformat(p))
        expect(decodes(b)).toBeDefined()
        plain++
        if (check(b)) plainAccepted++
      } else {
        let s = fz.reformat(p)
        const rounds = 1 + fz.int(3)
        for (let r = 0; r < rounds; r++) s = fz.mutate(s)
        const b = buf(s)
        mutated++
        if (decodes(b)) mutatedValid++
        else if (rejectionCode(b) === 'CORE_ERR_PAYLOAD_DUPLICATE_KEY') mutatedDuplicate++
        if (check(b)) mutatedAccepted++
      }
    }
    expect(plain).toBe(8000)
    expect(plainAccepted / plain).toBeGreaterThanOrEqual(0.95)
    // The mutations reach both sides: some stay valid (and are accepted), most do not.
    expect(mutated).toBe(16_000)
    expect(mutatedAccepted).toBeGreaterThan(0)
    expect(mutatedAccepted).toBeLessThanOrEqual(mutatedValid)
    expect(mutatedValid).toBeLessThan(mutated)
    // The duplicate-key mutation reaches decodePayload's duplicate check (the scanner declined them all:
    // check() above holds every acceptance to decodePayload).
    expect(mutatedDuplicate).toBeGreaterThan(500)
    console.log(JSON.stringify({ plain, plainAccepted, mutated, mutatedValid, mutatedAccepted, mutatedDuplicate }))
  })

  it('agrees with decodePayload on single numbers near every range limit', () => {
    const fz = fuzzer(42)
    let accepted = 0
    for (let k = 0; k < 6000; k++) {
      const name = QUANTITY_NAMES[fz.int(QUANTITY_NAMES.length)] as string
      const { min, max } = QUANTITIES[name as keyof typeof QUANTITIES]
      const base = fz.rnd() < 0.5 ? min : max
      const delta = (fz.rnd() - 0.5) * 10 ** -fz.int(18) * Math.max(1, Math.abs(base))
      const v = base + delta
      const text = [String(v), v.toFixed(fz.int(21)), v.toPrecision(1 + fz.int(21))][fz.int(3)] as string
      if (check(buf(payload(sample(`"${name}":${text}`))))) accepted++
    }
    expect(accepted).toBeGreaterThan(1000)
  })
})
