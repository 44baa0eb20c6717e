import { PlantWattError } from '../core/errors.ts'
import { SYS_TOPIC_ROOT } from '../core/mqtt.ts'
import { COMMAND_CHANNEL, isValidId, TOPIC_ROOT } from '../core/topic.ts'

const INGEST_STATE_PREFIX = `${SYS_TOPIC_ROOT}/ingest/`

/**
 * What a broker user is for:
 * - `gateway`: an edge agent; publishes `data` and `state` under its own `pw/v1/{enterprise}/{site}/`
 *   (any site of its enterprise when no site is set) and subscribes only to its own command topics;
 * - `ingest`: reads everything under `pw/` (telemetry and the dead-letter topic), publishes only its
 *   status under `pw/sys/ingest/`;
 * - `service` (alerts and other readers): reads everything under `pw/`, publishes only `alert`;
 * - `admin`: publishes anywhere the publish policy allows and subscribes anywhere, `$SYS` included.
 */
export const BROKER_ROLES = ['gateway', 'ingest', 'service', 'admin'] as const
export type BrokerRole = (typeof BROKER_ROLES)[number]

/** Command topics a gateway may subscribe to: `pw/v1/{enterprise}/{site}/{line}/{device}/command`. */
export { COMMAND_CHANNEL }

export interface AclSubject {
  role: BrokerRole
  enterprise?: string | undefined
  site?: string | undefined
}

/** A user's permissions, compiled once at broker start and kept with each of its connections. */
export interface ClientAcl {
  readonly role: BrokerRole
  /** `gateway acme/wuhan`, `ingest`: for logs. */
  readonly scope: string
  canPublish(topic: string): boolean
  canSubscribe(filter: string): boolean
  /**
   * Whether a message on `topic` may be delivered to this user: checked at every delivery, queued
   * messages of a resumed session included, so a session never yields what its user may not read.
   */
  canRead(topic: string): boolean
}

/**
 * True when every topic `filter` can match is also matched by `pattern` (both split in levels):
 * a `+` in the filter needs `+` or `#` in the pattern, a `#` in the filter needs `#`.
 */
export function filterWithin(filter: readonly string[], pattern: readonly string[]): boolean {
  for (let i = 0; ; i++) {
    const p = pattern[i]
    const f = filter[i]
    if (p === '#') return true
    if (f === undefined || p === undefined) return f === undefined && p === undefined
    if (f === '#') return false
    if (p === '+') continue
    if (f === '+' || f !== p) return false
  }
}

function subscribeChecker(patterns: readonly string[]): (filter: string) => boolean {
  const compiled = patterns.map((p) => p.split('/'))
  if (compiled.length === 0) return () => false
  return (filter) => {
    const levels = filter.split('/')
    for (const pattern of compiled) if (filterWithin(levels, pattern)) return true
    return false
  }
}

function readChecker(patterns: readonly string[]): (topic: string) => boolean {
  // `pw/#` (ingest, service): a prefix test per message, no split.
  if (patterns.length === 1 && patterns[0] === `${TOPIC_ROOT.split('/')[0]}/#`) {
    const prefix = `${TOPIC_ROOT.split('/')[0]}/`
    return (topic) => topic.startsWith(prefix)
  }
  return subscribeChecker(patterns)
}

function publishChecker(prefix: string | undefined, channels: readonly string[]): (topic: string) => boolean {
  if (prefix === undefined) return () => false
  const allowed = new Set(channels)
  // A prefix ending in '/' plus the last level: no split, no regex, per message.
  return (topic) => topic.startsWith(prefix) && allowed.has(topic.slice(topic.lastIndexOf('/') + 1))
}

/** Compiles a subject's permissions; throws BROKER_ERR_ACL when its scope does not fit its role. */
export function compileAcl(subject: AclSubject): ClientAcl {
  const { role, enterprise, site } = subject
  for (const [name, value] of [
    ['enterprise', enterprise],
    ['site', site],
  ] as const) {
    if (value !== undefined && !isValidId(value)) throw new PlantWattError('BROKER_ERR_ACL', `${name} ${JSON.stringify(value)} is not a valid id`)
  }
  switch (role) {
    case 'gateway': {
      if (enterprise === undefined) throw new PlantWattError('BROKER_ERR_ACL', 'a gateway user needs its enterprise (and usually its site)')
      const scope = site === undefined ? `${TOPIC_ROOT}/${enterprise}/` : `${TOPIC_ROOT}/${enterprise}/${site}/`
      const commands = [`${TOPIC_ROOT}/${enterprise}/${site ?? '+'}/+/+/${COMMAND_CHANNEL}`]
      return {
        role,
        scope: `gateway ${enterprise}/${site ?? '*'}`,
        canPublish: publishChecker(scope, ['data', 'state']),
        canSubscribe: subscribeChecker(commands),
        canRead: readChecker(commands),
      }
    }
    case 'ingest':
    case 'service': {
      if (enterprise !== undefined || site !== undefined)
        throw new PlantWattError('BROKER_ERR_ACL', `role ${role} reads the whole plant: enterprise and site do not apply`)
      return {
        role,
        scope: role,
        canPublish:
          role === 'service'
            ? publishChecker(`${TOPIC_ROOT}/`, ['alert'])
            : (topic) => topic.startsWith(INGEST_STATE_PREFIX) && topic.indexOf('/', INGEST_STATE_PREFIX.length) === -1,
        canSubscribe: subscribeChecker(['pw/#']),
        canRead: readChecker(['pw/#']),
      }
    }
    case 'admin':
      return { role, scope: 'admin', canPublish: () => true, canSubscribe: () => true, canRead: () => true }
  }
}
