import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'
import { PlantWattError } from '../core/errors.ts'
import { decodePayload } from '../core/payload.ts'
import { maxSampleSlots, scanSamples, type SamplesResult } from '../core/payload-scan.ts'
import { deviceKey, listPlantDevices, type PlantModel } from '../core/plant.ts'
import { addressTags, parseTopic, type TopicParts } from '../core/topic.ts'
import { TELEMETRY_MEASUREMENT, type SampleBlock, type TelemetryPoint } from '../storage/store.ts'
import type { IngestConfig } from './config.ts'
import { conflictDeadLetter, screenBlock, screenPoints, type SampleConflict } from './conflicts.ts'
import type { DeadLetterSink } from './dead-letter-sink.ts'
import type { RecentSamples } from './recent-samples.ts'
import { SampleSlab } from './sample-slab.ts'
import { partitionOf, payloadToPoints } from './telemetry.ts'

/** What one message gives to write: points, and the samples of a validated payload as a block. */
export interface Taken {
  points: TelemetryPoint[]
  block: SampleBlock | undefined
  /** Samples to count as written once these are. */
  samples: number
}

export interface MessageDecoderOptions {
  config: Pick<IngestConfig, 'maxPayloadBytes' | 'partition'>
  /** With `plant.strict`, telemetry of devices not in the model is dead-lettered. */
  plant?: PlantModel | undefined
  /** Give valid payloads as blocks (a store with writeBlocks), not as points. */
  blocks: boolean
  /** The window of recent samples, in front of a store that cannot tell conflicts itself. */
  window: RecentSamples | undefined
  sink: DeadLetterSink
}

/** A valid data topic, parsed: a device publishes to the same topic all day. */
interface KnownTopic {
  address: TopicParts
  key: string
  tags: Readonly<Record<string, string>>
  /** The device's number in the window (0 without one). */
  device: number
}

const TOPIC_CACHE_SIZE = 100_000
const NO_POINTS: TelemetryPoint[] = []
const NONE: Taken = { points: NO_POINTS, block: undefined, samples: 0 }

/**
 * Turns each message into what to write: validates it (again: the broker may be one that does not),
 * checks it against the conflict window, and dead-letters whatever is invalid or conflicting. The
 * common case takes the scanner's fast path (no JSON.parse, a block of byte ranges); anything
 * unusual, or a store without blocks, takes the full decode.
 */
export class MessageDecoder {
  /** Messages of devices owned by another partition (and the broker's dead letters on partitions other than 0). */
  skipped = 0
  /** Samples set aside as conflicts. */
  conflicts = 0
  private readonly topics = new Map<string, KnownTopic>()
  private readonly knownDevices: Set<string> | undefined
  private readonly slab = new SampleSlab()
  private readonly scanned: SamplesResult = { seq: 0, end: 0, samples: 0 }
  private readonly found: SampleConflict[] = []
  /** Points screenBlock made of conflicting samples' new fields (rare): taken out per message. */
  private readonly reduced: TelemetryPoint[] = []

  constructor(private readonly opts: MessageDecoderOptions) {
    this.knownDevices = opts.plant?.strict ? new Set(listPlantDevices(opts.plant).map(deviceKey)) : undefined
  }

  /** What to write for one message; never throws (what cannot be written is dead-lettered). */
  take(topic: string, payload: Buffer): Taken {
    if (topic === DEAD_LETTER_TOPIC) {
      // With partitions, one instance keeps the broker's dead letters so they are counted once.
      const partition = this.opts.config.partition
      if (partition && partition.index !== 0) this.skipped++
      else this.opts.sink.recordEnvelope(payload)
      return NONE
    }
    try {
      return this.takeData(topic, payload)
    } catch (err) {
      this.opts.sink.recordError(err, topic, payload)
      return NONE
    }
  }

  private takeData(topic: string, payload: Buffer): Taken {
    const known = this.topic(topic)
    const { partition, maxPayloadBytes } = this.opts.config
    if (partition && partitionOf(known.key, partition.count) !== partition.index) {
      this.skipped++
      return NONE
    }
    // Checked after the payload, so a malformed payload is dead-lettered for what is wrong with it.
    const unknownDevice = this.knownDevices !== undefined && !this.knownDevices.has(known.key)
    if (this.opts.blocks && payload.length <= maxPayloadBytes) {
      // The common case without JSON.parse: the scanner vouches for the payload (it declines
      // anything unusual, which then takes the full decode below).
      const slots = this.slab.reserve(maxSampleSlots(payload.length))
      const from = this.slab.offset
      if (scanSamples(payload, slots, from, this.scanned, maxPayloadBytes) === 1) {
        if (unknownDevice) throw unknownDeviceError(known.key)
        this.slab.commit(this.scanned.end)
        const block: SampleBlock = {
          measurement: TELEMETRY_MEASUREMENT,
          tags: known.tags,
          json: payload,
          seq: this.scanned.seq,
          slots,
          from,
          samples: this.scanned.samples,
        }
        return this.screenBlock(topic, known, block)
      }
    }
    const decoded = decodePayload(payload, { maxBytes: maxPayloadBytes })
    if (unknownDevice) throw unknownDeviceError(known.key)
    let points = payloadToPoints(known.address, decoded)
    let samples = decoded.samples.length
    const window = this.opts.window
    if (window !== undefined) {
      points = screenPoints(window, known.device, points, this.found)
      samples -= this.setAside(topic, known.key)
    }
    return { points, block: undefined, samples }
  }

  private screenBlock(topic: string, known: KnownTopic, block: SampleBlock): Taken {
    const window = this.opts.window
    if (window === undefined) return { points: [], block, samples: block.samples }
    const scanned = block.samples
    const reduced = this.reduced
    screenBlock(window, known.device, block, this.found, reduced)
    const conflicts = this.setAside(topic, known.key)
    const points = reduced.length === 0 ? NO_POINTS : reduced.splice(0)
    return { points, block: block.samples > 0 ? block : undefined, samples: scanned - conflicts }
  }

  private topic(topic: string): KnownTopic {
    let known = this.topics.get(topic)
    if (known === undefined) {
      const address = parseTopic(topic)
      if (address.channel !== 'data') throw new PlantWattError('INGEST_ERR_CHANNEL', `ingest only stores the data channel, got ${JSON.stringify(topic)}`)
      const key = deviceKey(address)
      known = { address, key, tags: addressTags(address), device: this.opts.window?.device(key) ?? 0 }
      if (this.topics.size >= TOPIC_CACHE_SIZE) this.topics.clear()
      this.topics.set(topic, known)
    }
    return known
  }

  /** Dead-letters and counts the conflicts found in one message; returns how many. */
  private setAside(topic: string, device: string): number {
    const n = this.found.length
    for (const c of this.found) this.opts.sink.record(conflictDeadLetter(topic, device, c))
    this.conflicts += n
    this.found.length = 0
    return n
  }
}

function unknownDeviceError(key: string): PlantWattError {
  return new PlantWattError('INGEST_ERR_UNKNOWN_DEVICE', `device ${key} is not in the plant model (plant.strict is on)`)
}
