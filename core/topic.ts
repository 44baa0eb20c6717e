import { PlantWattError } from './errors.ts'

/** Identifier of an enterprise, site, line or device: lower case, no wildcards, no slashes. */
export const ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$'
const ID_RE = new RegExp(ID_PATTERN)

export const TOPIC_ROOT = 'pw/v1'
/** data: samples; state: birth/death and counters; alert: alert events; command: to a gateway (services publish, the gateway subscribes). */
export const CHANNELS = ['data', 'state', 'alert', 'command'] as const
export const COMMAND_CHANNEL = 'command' satisfies Channel
export type Channel = (typeof CHANNELS)[number]

/** Where a device sits in the plant: the identity carried by every topic and every stored series. */
export interface DeviceAddress {
  enterprise: string
  site: string
  line: string
  device: string
}

/** The four address tags alone (what a telemetry series is tagged with, and a store filter for it). */
export function addressTags(a: DeviceAddress): Record<string, string> {
  return { enterprise: a.enterprise, site: a.site, line: a.line, device: a.device }
}

/** The address a stored series' tags name (the inverse of addressTags); a missing tag reads as ''. */
export function addressOfTags(tags: Readonly<Record<string, string | undefined>>): DeviceAddress {
  return { enterprise: tags.enterprise ?? '', site: tags.site ?? '', line: tags.line ?? '', device: tags.device ?? '' }
}

export interface TopicParts extends DeviceAddress {
  channel: Channel
}

export function isValidId(id: string): boolean {
  return ID_RE.test(id)
}

/** `pw/v1/{enterprise}/{site}/{line}/{device}/{channel}`; throws CORE_ERR_ID on a bad id. */
export function buildTopic(address: DeviceAddress, channel: Channel): string {
  for (const key of ['enterprise', 'site', 'line', 'device'] as const) {
    if (!isValidId(address[key])) {
      throw new PlantWattError('CORE_ERR_ID', `invalid ${key} id ${JSON.stringify(address[key])}: must match ${ID_PATTERN}`)
    }
  }
  return `${TOPIC_ROOT}/${address.enterprise}/${address.site}/${address.line}/${address.device}/${channel}`
}

/**
 * Parses a concrete topic (no wildcards). Throws CORE_ERR_TOPIC naming the bad level, so that a
 * hostile or mistyped topic is rejected at every boundary with the same message.
 */
export function parseTopic(topic: string): TopicParts {
  if (topic.length > 512) throw new PlantWattError('CORE_ERR_TOPIC', `topic longer than 512 characters`)
  const levels = topic.split('/')
  if (levels.length !== 7 || levels[0] !== 'pw' || levels[1] !== 'v1') {
    throw new PlantWattError('CORE_ERR_TOPIC', `topic ${JSON.stringify(topic)} is not pw/v1/{enterprise}/{site}/{line}/{device}/{channel}`)
  }
  const [, , enterprise, site, line, device, channel] = levels as [string, string, string, string, string, string, string]
  const named: [string, string][] = [
    ['enterprise', enterprise],
    ['site', site],
    ['line', line],
    ['device', device],
  ]
  for (const [name, value] of named) {
    if (!isValidId(value)) {
      throw new PlantWattError('CORE_ERR_TOPIC', `topic ${JSON.stringify(topic)}: ${name} level ${JSON.stringify(value)} must match ${ID_PATTERN}`)
    }
  }
  if (!(CHANNELS as readonly string[]).includes(channel)) {
    throw new PlantWattError('CORE_ERR_TOPIC', `topic ${JSON.stringify(topic)}: unknown channel ${JSON.stringify(channel)} (expected ${CHANNELS.join(', ')})`)
  }
  return { enterprise, site, line, device, channel: channel as Channel }
}

/** Subscription filter for one channel across the whole plant (or one enterprise). */
export function channelFilter(channel: Channel, enterprise = '+'): string {
  return `${TOPIC_ROOT}/${enterprise}/+/+/+/${channel}`
}
