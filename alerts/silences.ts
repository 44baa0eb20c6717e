import { randomBytes } from 'node:crypto'
import { DAY_MS } from '../core/duration.ts'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { DeviceAddress } from '../core/topic.ts'
import type { EventLog, StoredEvent } from '../storage/events.ts'

/**
 * Silences (maintenance windows): while one covers a device — by enterprise, site, line or device —
 * alerts are still detected, stored and shown, but not notified (webhooks, robots, e-mail,
 * escalation). Kept in the event log like acknowledgements, so the API (which creates and deletes
 * them) and the alert service (which obeys them) share them across processes:
 *
 *   kind  `alert_silence`
 *   tags  enterprise, [site, line, device] (the scope), silence (id), event = created | deleted
 *   fields created: start, end (epoch ms), reason, user;  deleted: user
 *   ts    when it was created / deleted
 *
 * When a silence ends (expires or is deleted) while an alert it held back is still firing, the
 * alert service tells it then (notifier.ts) and records that it did, so a restart does not tell it
 * again:
 *
 *   tags  enterprise, site, line, device, rule (the alert's), silence (id), event = released
 *   fields alert_id, held_since (the alert's opening, epoch ms)
 *   ts    when it was told
 *
 * A silence lasts at most MAX_SILENCE_MS and starts at most MAX_LEAD_MS after its creation, so the
 * silences overlapping a range are among those created up to MAX_SILENCE_MS + MAX_LEAD_MS before it.
 */

export const SILENCE_KIND = 'alert_silence'
export const MAX_SILENCE_MS = 31 * DAY_MS
export const MAX_LEAD_MS = 31 * DAY_MS
export const SILENCE_ID_PATTERN = '^s-[0-9a-z]{1,12}-[0-9a-f]{6}$'
export const SILENCE_STATES = ['active', 'scheduled', 'expired', 'deleted'] as const
export type SilenceState = (typeof SILENCE_STATES)[number]

/** Where a silence applies: an enterprise, or one of its sites, lines or devices. */
export interface SilenceScope {
  enterprise: string
  site?: string
  line?: string
  device?: string
}

export interface Silence extends SilenceScope {
  id: string
  /** Epoch ms, inclusive. */
  start: number
  /** Epoch ms, exclusive: the expiry. */
  end: number
  reason: string
  createdBy: string
  createdAt: number
  deletedAt?: number
  deletedBy?: string
}

/** A new id: base-36 creation time and 6 random hex digits. */
export function newSilenceId(createdAt: number): string {
  return `s-${createdAt.toString(36)}-${randomBytes(3).toString('hex')}`
}

/** Creation time of a silence id; NaN when it is not one. */
export function createdAtOfSilenceId(id: string): number {
  if (!new RegExp(SILENCE_ID_PATTERN).test(id)) return Number.NaN
  return Number.parseInt(id.split('-')[1] ?? '', 36)
}

export function silenceState(s: Silence, now: number): SilenceState {
  if (s.deletedAt !== undefined) return 'deleted'
  if (now >= s.end) return 'expired'
  return now < s.start ? 'scheduled' : 'active'
}

const scopeTags = (s: SilenceScope): Record<string, string> => {
  const tags: Record<string, string> = { enterprise: s.enterprise }
  if (s.site !== undefined) tags.site = s.site
  if (s.line !== undefined) tags.line = s.line
  if (s.device !== undefined) tags.device = s.device
  return tags
}

export function silenceCreatedEvent(s: Silence): StoredEvent {
  return {
    kind: SILENCE_KIND,
    ts: s.createdAt,
    tags: { ...scopeTags(s), silence: s.id, event: 'created' },
    fields: { start: s.start, end: s.end, reason: s.reason, user: s.createdBy },
  }
}

export function silenceDeletedEvent(s: Silence, by: { user: string; ts: number }): StoredEvent {
  return { kind: SILENCE_KIND, ts: by.ts, tags: { ...scopeTags(s), silence: s.id, event: 'deleted' }, fields: { user: by.user } }
}

/** The record that an alert held back by a silence was told when the silence ended. */
export function silenceReleasedEvent(silenceId: string, alert: DeviceAddress & { alertId: string; rule: string; openedAt: number }, ts: number): StoredEvent {
  const { enterprise, site, line, device, rule } = alert
  return {
    kind: SILENCE_KIND,
    ts,
    tags: { enterprise, site, line, device, rule, silence: silenceId, event: 'released' },
    fields: { alert_id: alert.alertId, held_since: alert.openedAt },
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** Silences from their events (any order); a deletion without its creation is left out. */
export function foldSilences(events: readonly StoredEvent[]): Silence[] {
  const byId = new Map<string, Silence>()
  const sorted = [...events].sort((a, b) => a.ts - b.ts || (a.tags.event === 'created' ? -1 : 1))
  for (const e of sorted) {
    const id = e.tags.silence
    if (id === undefined || e.kind !== SILENCE_KIND) continue
    if (e.tags.event === 'created' && !byId.has(id)) {
      const { start, end } = e.fields
      if (typeof start !== 'number' || typeof end !== 'number' || e.tags.enterprise === undefined) continue
      const s: Silence = { id, enterprise: e.tags.enterprise, start, end, reason: str(e.fields.reason), createdBy: str(e.fields.user), createdAt: e.ts }
      for (const k of ['site', 'line', 'device'] as const) {
        const v = e.tags[k]
        if (v !== undefined) s[k] = v
      }
      byId.set(id, s)
    } else if (e.tags.event === 'deleted') {
      const s = byId.get(id)
      if (s && s.deletedAt === undefined) {
        s.deletedAt = e.ts
        s.deletedBy = str(e.fields.user)
      }
    }
  }
  return [...byId.values()]
}

/** True when the silence's scope holds the address (every key it gives matches). */
export function scopeHolds(s: SilenceScope, a: DeviceAddress): boolean {
  return (
    s.enterprise === a.enterprise &&
    (s.site === undefined || s.site === a.site) &&
    (s.line === undefined || s.line === a.line) &&
    (s.device === undefined || s.device === a.device)
  )
}

/** True when the silence covers the address at `ts` (in its window, and not deleted before). */
export function silenceCovers(s: Silence, a: DeviceAddress, ts: number): boolean {
  return scopeHolds(s, a) && ts >= s.start && ts < Math.min(s.end, s.deletedAt ?? Number.POSITIVE_INFINITY)
}

/** Silences whose window overlaps [start, stop), optionally of one enterprise; oldest start first. */
export async function loadSilences(log: Pick<EventLog, 'query'>, q: { start: number; stop: number; enterprise?: string }): Promise<Silence[]> {
  const filter = q.enterprise === undefined ? undefined : { enterprise: q.enterprise }
  const from = q.start - MAX_SILENCE_MS - MAX_LEAD_MS
  const created = await log.query({ kind: SILENCE_KIND, start: from, stop: q.stop, filter: { ...filter, event: 'created' } })
  if (created.length === 0) return []
  const deleted = await log.query({ kind: SILENCE_KIND, start: from, filter: { ...filter, event: 'deleted' } })
  return foldSilences([...created, ...deleted])
    .filter((s) => s.start < q.stop && s.end > q.start)
    .sort((a, b) => a.start - b.start || a.createdAt - b.createdAt)
}

/** One silence by id; undefined when unknown. */
export async function loadSilence(log: Pick<EventLog, 'query'>, id: string): Promise<Silence | undefined> {
  const createdAt = createdAtOfSilenceId(id)
  if (!Number.isFinite(createdAt)) return undefined
  const events = await log.query({ kind: SILENCE_KIND, start: createdAt, filter: { silence: id } })
  return foldSilences(events).find((s) => s.id === id)
}

/**
 * The alert service's view of the silences: read from the event log at start and every
 * `intervalMs` (the API may create one at any time, in another process). A failed read keeps the
 * silences known so far (logged) and is retried at the next interval.
 */
export class SilenceBook {
  private silences: Silence[] = []
  private timer: NodeJS.Timeout | undefined
  /** Fires at the next end of a known silence. */
  private expiryTimer: NodeJS.Timeout | undefined
  private reading: Promise<void> | undefined
  private readonly watchers: ((now: number) => void)[] = []
  /** Alert id → when its release was recorded (read once, at the first refresh). */
  private released: Map<string, number> | undefined

  constructor(
    private readonly log: Pick<EventLog, 'query'>,
    private readonly now: () => number,
    private readonly logger?: Logger,
  ) {}

  /** Reads the silences that may matter from now on (and for the last day, for late transitions). */
  refresh(): Promise<void> {
    this.reading ??= this.read().finally(() => (this.reading = undefined))
    return this.reading
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.refresh(), intervalMs)
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    if (this.expiryTimer) clearTimeout(this.expiryTimer)
    this.timer = undefined
    this.expiryTimer = undefined
    this.watchers.length = 0
    await this.reading
  }

  /**
   * `listener(now)` after every refresh (a silence deleted in the API is seen then) and at the end of
   * every known silence (an expiry is seen on time): the notifier releases the alerts held back.
   * Exceptions are logged, never thrown.
   */
  watch(listener: (now: number) => void): void {
    this.watchers.push(listener)
    if (this.expiryTimer === undefined) this.scheduleExpiry()
  }

  /** When the release of an alert held back by a silence was recorded (at start: from the event log). */
  releasedAt(alertId: string): number | undefined {
    return this.released?.get(alertId)
  }

  /** The silence covering the address at `ts`, if any. */
  silenceOf(address: DeviceAddress, ts: number): Silence | undefined {
    return this.silences.find((s) => silenceCovers(s, address, ts))
  }

  get known(): number {
    return this.silences.length
  }

  private async read(): Promise<void> {
    const now = this.now()
    try {
      this.silences = await loadSilences(this.log, { start: now - DAY_MS, stop: now + MAX_LEAD_MS + MAX_SILENCE_MS })
      this.released ??= await loadReleases(this.log, now - MAX_LEAD_MS - MAX_SILENCE_MS)
    } catch (err) {
      this.logger?.warn({ err: describeError(err) }, 'reading silences from the event log failed; keeping those known')
    }
    this.tell()
    this.scheduleExpiry()
  }

  private tell(): void {
    const now = this.now()
    for (const w of this.watchers) {
      try {
        w(now)
      } catch (err) {
        this.logger?.warn({ err: describeError(err) }, 'a silence watcher threw')
      }
    }
  }

  /** A timer at the next end (expiry) of a known silence, so what it held back is told on time. */
  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer)
    this.expiryTimer = undefined
    if (this.watchers.length === 0) return
    const now = this.now()
    const next = Math.min(...this.silences.map((s) => (s.end > now && s.deletedAt === undefined ? s.end : Number.POSITIVE_INFINITY)))
    if (!Number.isFinite(next)) return
    // setTimeout holds at most 2^31-1 ms; a later end is scheduled again from the refresh that follows.
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = undefined
        this.tell()
        this.scheduleExpiry()
      },
      Math.min(next - now + 1, 2 ** 31 - 1),
    )
    this.expiryTimer.unref()
  }
}

/** Alert id → when its release from a silence was recorded, since `start`. */
async function loadReleases(log: Pick<EventLog, 'query'>, start: number): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const e of await log.query({ kind: SILENCE_KIND, start, filter: { event: 'released' } })) {
    const id = e.fields.alert_id
    if (typeof id === 'string') out.set(id, e.ts)
  }
  return out
}
