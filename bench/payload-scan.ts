/**
 * Micro-benchmark of the payload fast path (core/payload-scan.ts) against decodePayload, on
 * payloads shaped like the pipeline benchmark's (bench/load-process.ts sampleFor: 3 values per
 * sample) with 10 samples and with 1 sample per message. scanSamples records into one
 * preallocated array, wrapping to its start when the next payload might not fit; scanSamples+encodeBlocks
 * adds what the InfluxDB backend does with the block (its line protocol). Prints one JSON object.
 *   node --import tsx bench/payload-scan.ts [iterations]   (default 300 000 per case)
 */
import { decodePayload, encodePayload, type Sample } from '../core/payload.ts'
import { isValidPayloadFast, maxSampleSlots, scanPayload, scanSamples, type SamplesResult, type ScannedPayload } from '../core/payload-scan.ts'
import { encodeBlocks, linePrefix } from '../storage/influxdb/line-protocol.ts'
import type { SampleBlock } from '../storage/store.ts'
import { payloadToPoints } from '../ingest/telemetry.ts'

const ITERATIONS = Number(process.argv[2] ?? 300_000)
const WARMUP = 50_000
/** Distinct payloads cycled through, so that no single input stays hot in the branch predictor. */
const DISTINCT = 256
const T0 = Date.UTC(2025, 0, 1)
const ADDRESS = { enterprise: 'bench', site: 's1', line: 'l1', device: 'm0' }

// As bench/load-process.ts builds them.
function sampleFor(device: number, i: number, t0: number): Sample {
  const kw = 100 + ((device * 7 + i) % 50)
  return { ts: t0 + i * 1000, values: { active_power_kw: kw, energy_import_kwh: 1000 + i * 0.03, frequency_hz: 50 + ((i % 10) - 5) / 100 } }
}

function payloads(samplesPerMessage: number): Buffer[] {
  return Array.from({ length: DISTINCT }, (_, k) => {
    const seq = 1000 + k
    const samples: Sample[] = []
    for (let j = seq * samplesPerMessage; j < (seq + 1) * samplesPerMessage; j++) samples.push(sampleFor(k % 50, j, T0))
    return encodePayload({ seq, samples })
  })
}

/** Keeps results alive so that the work cannot be optimised away. */
let sink = 0

function time(inputs: Buffer[], run: (b: Buffer) => number): number {
  for (let i = 0; i < WARMUP; i++) sink += run(inputs[i % DISTINCT] as Buffer)
  const started = process.hrtime.bigint()
  for (let i = 0; i < ITERATIONS; i++) sink += run(inputs[i % DISTINCT] as Buffer)
  return Number(process.hrtime.bigint() - started) / ITERATIONS
}

// As ingest builds it for the topic of ADDRESS.
const PREFIX_TEXT = linePrefix('telemetry', ADDRESS)
const SLOTS = new Float64Array(1 << 20)
const samplesResult: SamplesResult = { seq: 0, end: 0, samples: 0 }
let slotsOffset = 0

function block(b: Buffer): SampleBlock {
  if (SLOTS.length - slotsOffset < maxSampleSlots(b.length)) slotsOffset = 0
  if (scanSamples(b, SLOTS, slotsOffset, samplesResult) !== 1) throw new Error('scanSamples declined a benchmark payload')
  const from = slotsOffset
  slotsOffset = samplesResult.end
  return { measurement: 'telemetry', tags: ADDRESS, json: b, seq: samplesResult.seq, slots: SLOTS, from, samples: samplesResult.samples }
}

const cases = {
  decodePayload: (b: Buffer) => decodePayload(b).samples.length,
  'decodePayload+payloadToPoints': (b: Buffer) => payloadToPoints(ADDRESS, decodePayload(b)).length,
  scanPayload: (b: Buffer) => (scanPayload(b) as { ts: number[] }).ts.length,
  isValidPayloadFast: (b: Buffer) => (isValidPayloadFast(b) ? 1 : 0),
  // What ingest did before writing lines as bytes (there the strings live until the batch is written).
  'scanPayload+lineStrings+utf8': (b: Buffer) => {
    const r = scanPayload(b) as ScannedPayload
    const lines = r.ts.map((ts, i) => `${PREFIX_TEXT} ${r.fields[i] ? `${r.fields[i]},` : ''}seq=${r.seq} ${ts}\n`)
    return Buffer.from(lines.join('')).length
  },
  scanSamples: (b: Buffer) => block(b).samples,
  'scanSamples+encodeBlocks': (b: Buffer) => encodeBlocks([block(b)]).length,
}

function linesBytes(inputs: Buffer[]): number {
  let total = 0
  for (const b of inputs) {
    total += encodeBlocks([block(b)]).length
  }
  return Math.round(total / inputs.length)
}

const result: Record<string, unknown> = { iterations: ITERATIONS, node: process.version }
for (const samplesPerMessage of [10, 1]) {
  const inputs = payloads(samplesPerMessage)
  const accepted = inputs.filter((b) => isValidPayloadFast(b)).length
  const row: Record<string, { nsPerPayload: number; nsPerSample: number }> = {}
  for (const [name, run] of Object.entries(cases)) {
    const ns = time(inputs, run)
    row[name] = { nsPerPayload: Math.round(ns), nsPerSample: Math.round((ns / samplesPerMessage) * 10) / 10 }
  }
  const base = row['decodePayload+payloadToPoints']?.nsPerPayload ?? 0
  result[`samples${samplesPerMessage}`] = {
    bytesPerPayload: Math.round(inputs.reduce((n, b) => n + b.length, 0) / inputs.length),
    acceptedByFastPath: `${accepted}/${inputs.length}`,
    ...row,
    lineBytesPerPayload: linesBytes(inputs),
    speedupScanVsDecodeAndPoints: Math.round((base / (row.scanPayload?.nsPerPayload ?? 1)) * 10) / 10,
    speedupBlockLinesVsLineStrings:
      Math.round(((row['scanPayload+lineStrings+utf8']?.nsPerPayload ?? 0) / (row['scanSamples+encodeBlocks']?.nsPerPayload ?? 1)) * 10) / 10,
  }
}
result.sink = sink
console.log(JSON.stringify(result, null, 2))
