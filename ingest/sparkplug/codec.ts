/**
 * Sparkplug B payloads as ingest reads them, through Eclipse Tahu's generated protobuf code
 * (sparkplug-payload). Tahu's own decodePayload picks a metric's value by its datatype, which
 * Sparkplug B 3.0 lets DATA messages leave out (§6.4.16: datatype only required in births), so the
 * value is read here from the field that is set, with the datatype the birth declared.
 */
import type Long from 'long'
import { encodePayload } from 'sparkplug-payload/lib/sparkplugbpayload.js'
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js'
import { describeError, PlantWattError } from '../../core/errors.ts'

const Payload = proto.org.eclipse.tahu.protobuf.Payload
type WireMetric = proto.org.eclipse.tahu.protobuf.Payload.IMetric

/** Sparkplug B 3.0 §6.4.16 data type codes of the scalar types. */
export const DATATYPES = {
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
} as const

/** Property names PlantWatt reads and writes (Ignition's conventions; Sparkplug leaves them open). */
export const QUALITY_PROPERTY = 'Quality'
export const UNIT_PROPERTY = 'engUnit'
/** OPC DA quality codes, as Ignition carries them in the Quality property. */
export const QUALITY_CODES = { good: 192, uncertain: 64, bad: 0 } as const

export interface SparkplugMetric {
  name: string | undefined
  alias: number | undefined
  /** Epoch ms; undefined when the metric has none (the payload's timestamp applies). */
  timestamp: number | undefined
  /** As on the wire; DATA messages may leave it out. */
  datatype: number | undefined
  isNull: boolean
  isHistorical: boolean
  /** The Quality property, when present (192 good, 64 uncertain, 0 bad). */
  quality: number | undefined
  /** The set value field, for metricNumber. */
  readonly wire: WireMetric
}

export interface SparkplugPayload {
  timestamp: number | undefined
  seq: number | undefined
  metrics: SparkplugMetric[]
}

function num(v: number | Long | null | undefined): number | undefined {
  if (v === null || v === undefined) return undefined
  return typeof v === 'number' ? v : v.toNumber()
}

function qualityOf(m: WireMetric): number | undefined {
  const set = m.properties
  if (!set?.keys) return undefined
  const i = set.keys.indexOf(QUALITY_PROPERTY)
  const v = i < 0 ? undefined : set.values?.[i]
  if (!v) return undefined
  return v.intValue ?? num(v.longValue) ?? undefined
}

/** Decodes a Sparkplug B payload; INGEST_ERR_SPARKPLUG_PAYLOAD when it is not one. */
export function decodeSparkplug(bytes: Uint8Array): SparkplugPayload {
  let p: InstanceType<typeof Payload>
  try {
    p = Payload.decode(bytes)
  } catch (err) {
    throw new PlantWattError('INGEST_ERR_SPARKPLUG_PAYLOAD', `not a Sparkplug B payload (protobuf): ${describeError(err)}`, { cause: err })
  }
  // A field not on the wire is not an own property of the decoded message (protobufjs static code).
  const metrics: SparkplugMetric[] = []
  for (const m of p.metrics) metrics.push(metricOf(m))
  return {
    timestamp: Object.hasOwn(p, 'timestamp') ? num(p.timestamp) : undefined,
    seq: Object.hasOwn(p, 'seq') ? num(p.seq) : undefined,
    metrics,
  }
}

function metricOf(m: WireMetric): SparkplugMetric {
  return {
    name: Object.hasOwn(m, 'name') ? (m.name ?? undefined) : undefined,
    alias: Object.hasOwn(m, 'alias') ? num(m.alias) : undefined,
    timestamp: Object.hasOwn(m, 'timestamp') ? num(m.timestamp) : undefined,
    datatype: Object.hasOwn(m, 'datatype') ? (m.datatype ?? undefined) : undefined,
    isNull: m.isNull === true,
    isHistorical: m.isHistorical === true,
    quality: qualityOf(m),
    wire: m,
  }
}

/** Sign-extends a two's complement integer of `bits` bits carried in the unsigned int_value. */
function signed(v: number, bits: number): number {
  const mask = 2 ** bits
  const u = v % mask
  return u >= mask / 2 ? u - mask : u
}

/**
 * A metric's value as a number (Boolean: 1 or 0) under `datatype`; undefined for a null value or a
 * type that is not a number (String, DataSet, Template …).
 */
export function metricNumber(m: SparkplugMetric, datatype: number): number | undefined {
  if (m.isNull) return undefined
  const w = m.wire
  switch (datatype) {
    case DATATYPES.Int8:
      return w.intValue === null || w.intValue === undefined ? undefined : signed(w.intValue, 8)
    case DATATYPES.Int16:
      return w.intValue === null || w.intValue === undefined ? undefined : signed(w.intValue, 16)
    case DATATYPES.Int32:
      return w.intValue === null || w.intValue === undefined ? undefined : signed(w.intValue, 32)
    case DATATYPES.UInt8:
    case DATATYPES.UInt16:
      return w.intValue ?? undefined
    case DATATYPES.UInt32:
      // Sparkplug 3.0 puts UInt32 in long_value; older nodes in int_value.
      return num(w.longValue) ?? w.intValue ?? undefined
    case DATATYPES.Int64: {
      const v = w.longValue
      if (v === null || v === undefined) return undefined
      return typeof v === 'number' ? v : v.toSigned().toNumber()
    }
    case DATATYPES.UInt64:
    case DATATYPES.DateTime:
      return num(w.longValue)
    case DATATYPES.Float:
      return w.floatValue ?? undefined
    case DATATYPES.Double:
      return w.doubleValue ?? undefined
    case DATATYPES.Boolean:
      return w.booleanValue === null || w.booleanValue === undefined ? undefined : w.booleanValue ? 1 : 0
    default:
      return undefined
  }
}

/** The NCMD a host sends to make an edge node publish its births again (Sparkplug B 3.0 §6.4.18). */
export function rebirthCommand(now = Date.now()): Buffer {
  return Buffer.from(encodePayload({ timestamp: now, metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] }))
}
