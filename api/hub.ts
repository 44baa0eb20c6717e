import { PlantWattError } from '../core/errors.ts'

/** Where an event belongs: an enterprise, optionally narrowed to a site and a line. */
export interface HubScope {
  enterprise?: string
  site?: string
  line?: string
}

/** An event pushed to the live streams, e.g. an alert raised by the alert service. */
export interface HubEvent {
  enterprise: string
  site?: string
  line?: string
  /** SSE event name: lower-case letters, digits and '-' (e.g. `alert`); `values` is the stream's own. */
  type: string
  /** Sent as JSON. */
  data: unknown
}

/** What a subscriber receives: the event, and `{ enterprise, site, line, data }` serialized once for every stream. */
export interface HubDelivery {
  event: HubEvent
  json: string
}

export type HubListener = (delivery: HubDelivery) => void

/** A device whose newest samples were just written to the store (ingest's `onStored`). */
export interface StoredDevice {
  enterprise: string
  site: string
  line: string
  device: string
}

const TYPE_RE = /^[a-z][a-z0-9-]{0,31}$/

/**
 * An event belongs to a subscription when every level both name agrees: a line's stream gets the
 * events of its line, of its site (no line) and of its enterprise (no site); an enterprise's stream
 * gets the events of all its sites and lines; a stream without enterprise (commission, admin) all.
 */
export function inScope(event: HubScope, subscription: HubScope): boolean {
  for (const level of ['enterprise', 'site', 'line'] as const) {
    const a = event[level]
    const b = subscription[level]
    if (a !== undefined && b !== undefined && a !== b) return false
  }
  return true
}

/**
 * In-process fan-out from the other parts of the process (the alert service; ingest's notices of
 * what it just stored) to the API's live streams. Synchronous and lossy by design: a stream that is
 * gone misses the event, nothing queues.
 *
 * ```ts
 * hub.publish({ enterprise: 'acme', site: 'wuhan', line: 'rolling-1', type: 'alert', data: alert })
 * ```
 */
export class StreamHub {
  private readonly subscribers = new Map<number, { scope: HubScope; listener: HubListener }>()
  private readonly storedListeners = new Map<number, { scope: HubScope; listener: () => void }>()
  private nextId = 1

  /** Delivers `event` to every subscription in scope; returns how many got it. Throws API_ERR_HUB_EVENT on a bad event. */
  publish(event: HubEvent): number {
    if (typeof event.enterprise !== 'string' || event.enterprise.length === 0) {
      throw new PlantWattError('API_ERR_HUB_EVENT', 'hub event needs the enterprise it belongs to')
    }
    if (!TYPE_RE.test(event.type) || event.type === 'values') {
      throw new PlantWattError('API_ERR_HUB_EVENT', `hub event type ${JSON.stringify(event.type)} must match ${TYPE_RE.source} and not be "values"`)
    }
    if (event.line !== undefined && event.site === undefined) {
      throw new PlantWattError('API_ERR_HUB_EVENT', `hub event of line ${JSON.stringify(event.line)} must name its site`)
    }
    const json = JSON.stringify({ enterprise: event.enterprise, site: event.site ?? null, line: event.line ?? null, data: event.data ?? null })
    let delivered = 0
    for (const { scope, listener } of [...this.subscribers.values()]) {
      if (!inScope(event, scope)) continue
      try {
        listener({ event, json })
        delivered++
      } catch {
        // A failing subscriber (a stream whose socket broke) is its own problem: the others still get it.
      }
    }
    return delivered
  }

  /** Receives the events within `scope` until the returned function is called. */
  subscribe(scope: HubScope, listener: HubListener): () => void {
    const id = this.nextId++
    this.subscribers.set(id, { scope: { ...scope }, listener })
    return () => {
      this.subscribers.delete(id)
    }
  }

  /**
   * Ingest has just written the newest samples of `devices` to the store: each stored-listener whose
   * scope covers at least one of them is called once (it then reads the store itself, under its own
   * scope — nothing but the addresses passes here). Returns how many were called.
   */
  stored(devices: readonly StoredDevice[]): number {
    let called = 0
    for (const { scope, listener } of [...this.storedListeners.values()]) {
      if (!devices.some((d) => inScope(d, scope))) continue
      try {
        listener()
        called++
      } catch {
        // One failing listener does not keep the others from hearing of the write.
      }
    }
    return called
  }

  /** Called (with nothing) whenever ingest stores a device within `scope`, until the returned function is called. */
  onStored(scope: HubScope, listener: () => void): () => void {
    const id = this.nextId++
    this.storedListeners.set(id, { scope: { ...scope }, listener })
    return () => {
      this.storedListeners.delete(id)
    }
  }

  /** Number of current subscriptions (the open streams). */
  get size(): number {
    return this.subscribers.size
  }
}
