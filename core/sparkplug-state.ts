/**
 * A Sparkplug B 3.0 primary host application's STATE (§5.3): `spBv1.0/STATE/<host id>`, payload
 * JSON `{"online": boolean, "timestamp": epoch ms}`, QoS 1, retained. One definition for both ends
 * of it: ingest announces it (ingest/sparkplug/host-state.ts), the edge agent's Sparkplug node
 * follows it (edge-agent/sparkplug/node.ts).
 */

export interface HostState {
  online: boolean
  timestamp: number
}

export function hostStateTopic(hostId: string): string {
  return `spBv1.0/STATE/${hostId}`
}

export function hostStatePayload(online: boolean, timestamp: number): Buffer {
  return Buffer.from(JSON.stringify({ online, timestamp }))
}

/** The STATE in a payload, or undefined when it is not JSON with a boolean `online` and a numeric `timestamp`. */
export function parseHostState(payload: Buffer): HostState | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as { online?: unknown; timestamp?: unknown } | null
    return typeof v?.online === 'boolean' && typeof v.timestamp === 'number' ? { online: v.online, timestamp: v.timestamp } : undefined
  } catch {
    return undefined
  }
}
