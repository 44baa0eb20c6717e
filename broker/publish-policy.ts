import type { DeadLetter } from '../core/dead-letter.ts'
import { PlantWattError, isPlantWattError } from '../core/errors.ts'
import { DEAD_LETTER_TOPIC, SYS_TOPIC_ROOT } from '../core/mqtt.ts'
import { decodePayload } from '../core/payload.ts'
import { isValidPayloadFast } from '../core/payload-scan.ts'
import { parseTopic } from '../core/topic.ts'

/** Dead letters keep at most this much of the original payload. */
export const DEAD_LETTER_COPY_BYTES = 64 * 1024

/**
 * What the broker does with a client's PUBLISH:
 * - `accept`: route it as sent;
 * - `divert`: route it to the dead-letter topic instead (the sender still gets its PUBACK, so an
 *   edge agent does not replay the same poison message forever);
 * - `reject`: refuse it, which makes Aedes close the connection — for topics no PlantWatt client
 *   has any business publishing to.
 */
export type PublishVerdict = { kind: 'accept' } | { kind: 'divert'; error: PlantWattError } | { kind: 'reject'; error: PlantWattError }

export interface PublishPolicyOptions {
  maxPayloadBytes: number
  validatePayloads: boolean
}

function asCoded(err: unknown, fallback: string): PlantWattError {
  return isPlantWattError(err) ? err : new PlantWattError(fallback, err instanceof Error ? err.message : String(err), { cause: err })
}

/** Valid topics seen → their channel: a device publishes to the same few topics all day. */
const channels = new Map<string, string>()
const TOPIC_CACHE_SIZE = 100_000

/** Decides a publish from its topic and payload alone; no I/O. */
export function judgePublish(topic: string, payload: Buffer, opts: PublishPolicyOptions): PublishVerdict {
  // [MQTT-4.7.2-1] topics starting with $ are the server's ($SYS): clients must not write there.
  if (topic.startsWith('$')) {
    return {
      kind: 'reject',
      error: new PlantWattError('BROKER_ERR_TOPIC_RESERVED', `publishing to ${JSON.stringify(topic)} is not allowed: $ topics belong to the broker`),
    }
  }
  // Only the broker diverts into the dead-letter topic; a client writing there could forge entries.
  if (topic === DEAD_LETTER_TOPIC) {
    return { kind: 'reject', error: new PlantWattError('BROKER_ERR_TOPIC_RESERVED', `publishing to ${DEAD_LETTER_TOPIC} is reserved to the broker`) }
  }
  // Services' status messages (pw/sys/…): the ACL decides who may write there; no payload schema.
  if (topic.startsWith(`${SYS_TOPIC_ROOT}/`)) {
    // [MQTT-3.3.2-2] no wildcards in a topic name
    if (topic.includes('+') || topic.includes('#')) {
      return { kind: 'reject', error: new PlantWattError('BROKER_ERR_TOPIC_WILDCARD', `topic ${JSON.stringify(topic.slice(0, 200))} contains a wildcard`) }
    }
    if (payload.length > opts.maxPayloadBytes) {
      return {
        kind: 'divert',
        error: new PlantWattError('CORE_ERR_PAYLOAD_SIZE', `payload of ${payload.length} bytes exceeds the limit of ${opts.maxPayloadBytes}`),
      }
    }
    return { kind: 'accept' }
  }
  if (!topic.startsWith('pw/')) {
    return { kind: 'reject', error: new PlantWattError('BROKER_ERR_TOPIC_NAMESPACE', `topic ${JSON.stringify(topic.slice(0, 200))} is outside pw/`) }
  }
  let channel = channels.get(topic)
  if (channel === undefined) {
    try {
      channel = parseTopic(topic).channel
    } catch (err) {
      return { kind: 'divert', error: asCoded(err, 'CORE_ERR_TOPIC') }
    }
    if (channels.size >= TOPIC_CACHE_SIZE) channels.clear()
    channels.set(topic, channel)
  }
  if (payload.length > opts.maxPayloadBytes) {
    return {
      kind: 'divert',
      error: new PlantWattError('CORE_ERR_PAYLOAD_SIZE', `payload of ${payload.length} bytes exceeds the limit of ${opts.maxPayloadBytes}`),
    }
  }
  // The byte scanner vouches for the common payload without parsing it; what it declines gets the
  // full decode, which accepts it or names the reason.
  if (channel === 'data' && opts.validatePayloads && !isValidPayloadFast(payload, opts.maxPayloadBytes)) {
    try {
      decodePayload(payload, { maxBytes: opts.maxPayloadBytes })
    } catch (err) {
      return { kind: 'divert', error: asCoded(err, 'BROKER_ERR_PAYLOAD') }
    }
  }
  return { kind: 'accept' }
}

/** The dead-letter envelope published on DEAD_LETTER_TOPIC in place of a diverted message. */
export function deadLetterEnvelope(error: PlantWattError, topic: string, payload: Buffer, ts = Date.now()): DeadLetter {
  return {
    ts,
    reason: error.code,
    message: error.message,
    topic,
    payload: payload.subarray(0, DEAD_LETTER_COPY_BYTES).toString('utf8'),
    payloadBytes: payload.length,
    source: 'broker',
  }
}
