/** Sparkplug B 3.0 topics (§4.1): spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]. */
export const SPARKPLUG_NAMESPACE = 'spBv1.0'

export const NODE_TYPES = ['NBIRTH', 'NDEATH', 'NDATA', 'NCMD'] as const
export const DEVICE_TYPES = ['DBIRTH', 'DDEATH', 'DDATA', 'DCMD'] as const
export type SparkplugMessageType = (typeof NODE_TYPES)[number] | (typeof DEVICE_TYPES)[number]

export interface SparkplugTopic {
  group: string
  type: SparkplugMessageType
  node: string
  /** Absent for node messages. */
  device?: string
}

/** True for every topic in the Sparkplug B namespace (STATE of host applications included). */
export function isSparkplugTopic(topic: string): boolean {
  return topic.startsWith(`${SPARKPLUG_NAMESPACE}/`)
}

/** The parts of an edge node's or device's topic; undefined for anything else (host STATE, a malformed topic). */
export function parseSparkplugTopic(topic: string): SparkplugTopic | undefined {
  const levels = topic.split('/')
  const [ns, group, type, node, device] = levels
  if (ns !== SPARKPLUG_NAMESPACE || !group || !type || !node) return undefined
  if ((NODE_TYPES as readonly string[]).includes(type) && levels.length === 4) return { group, type: type as SparkplugMessageType, node }
  if ((DEVICE_TYPES as readonly string[]).includes(type) && levels.length === 5 && device) return { group, type: type as SparkplugMessageType, node, device }
  return undefined
}

export function sparkplugTopic(t: SparkplugTopic): string {
  return `${SPARKPLUG_NAMESPACE}/${t.group}/${t.type}/${t.node}${t.device === undefined ? '' : `/${t.device}`}`
}
