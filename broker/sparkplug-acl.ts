/**
 * Who may use the Sparkplug B 3.0 namespace (`spBv1.0/<group>/<type>/<node>[/<device>]`): a
 * gateway only its own enterprise's group (the group id is the enterprise id), and only what an
 * edge node sends; ingest (the host application) reads every group, sends NCMD (rebirth
 * requests) and its STATE as a primary host (spBv1.0/STATE/<host id>), and publishes the retained `state` of the devices it maps Sparkplug devices to.
 * Sparkplug payloads are protobuf: the JSON payload policy does not apply to them.
 */
import { TOPIC_ROOT } from '../core/topic.ts'
import type { ClientAcl } from './acl.ts'

export const SPARKPLUG_NAMESPACE = 'spBv1.0'
const PREFIX = `${SPARKPLUG_NAMESPACE}/`
const EDGE_NODE_TYPES = new Set(['NBIRTH', 'NDEATH', 'NDATA'])
const EDGE_DEVICE_TYPES = new Set(['DBIRTH', 'DDEATH', 'DDATA'])

export function isSparkplugTopic(topic: string): boolean {
  return topic.startsWith(PREFIX)
}

/** A gateway's enterprise, from its ACL's scope (`gateway <enterprise>/<site|*>`). */
function gatewayEnterprise(acl: ClientAcl): string | undefined {
  if (acl.role !== 'gateway') return undefined
  return acl.scope.slice('gateway '.length).split('/')[0]
}

/** True when `acl` may publish `topic` under the Sparkplug rules above (admins: by their own ACL). */
export function sparkplugCanPublish(acl: ClientAcl, topic: string): boolean {
  const levels = topic.split('/')
  if (acl.role === 'ingest') {
    // spBv1.0/<group>/NCMD/<node>, and pw/v1/{e}/{s}/{l}/{device}/state
    // … and its own STATE as a primary host application: spBv1.0/STATE/<host id>
    if (levels[0] === SPARKPLUG_NAMESPACE)
      return (
        !topic.includes('+') &&
        !topic.includes('#') &&
        ((levels.length === 4 && levels[2] === 'NCMD') || (levels.length === 3 && levels[1] === 'STATE' && levels[2] !== ''))
      )
    return topic.startsWith(`${TOPIC_ROOT}/`) && levels.length === 7 && levels[6] === 'state'
  }
  const enterprise = gatewayEnterprise(acl)
  if (enterprise === undefined || levels[0] !== SPARKPLUG_NAMESPACE || levels[1] !== enterprise) return false
  const type = levels[2] ?? ''
  if (topic.includes('+') || topic.includes('#') || levels.some((l) => l === '')) return false
  return (levels.length === 4 && EDGE_NODE_TYPES.has(type)) || (levels.length === 5 && EDGE_DEVICE_TYPES.has(type))
}

/** True when `acl` may subscribe to (and be sent) `filter` in the Sparkplug namespace. */
export function sparkplugCanSubscribe(acl: ClientAcl, filter: string): boolean {
  if (!isSparkplugTopic(filter)) return false
  if (acl.role === 'ingest') return true
  const enterprise = gatewayEnterprise(acl)
  if (enterprise === undefined) return false
  const [, group, type, node, device, ...rest] = filter.split('/')
  if (group === 'STATE') return type !== undefined && type !== '#' && node === undefined // host applications' STATE
  if (group !== enterprise || rest.length > 0 || node === undefined || node === '#') return false
  if (type === 'NCMD') return device === undefined
  return type === 'DCMD' && device !== undefined
}
