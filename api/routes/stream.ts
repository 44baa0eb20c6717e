import type { ServerResponse } from 'node:http'
import Type from 'typebox'
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { deviceKey } from '../../core/plant.ts'
import { TELEMETRY_MEASUREMENT, type TagFilter } from '../../storage/store.ts'
import { streamSettings } from '../config.ts'
import { csvRequested } from '../csv.ts'
import { ERROR_RESPONSES, apiError, toErrorReply } from '../errors.ts'
import type { HubDelivery, HubScope } from '../hub.ts'
import { scopedEnterprise } from '../principal.ts'
import { IdSchema } from '../schemas.ts'
import { snapshotsFromLatest, type QualityName } from '../telemetry.ts'
import type { ApiContext, RouteOptions } from '../context.ts'

const StreamQuerySchema = Type.Object(
  {
    enterprise: Type.Optional(IdSchema('enterprise; default the caller’s own (required for commission and admin only to narrow)')),
    site: Type.Optional(IdSchema('site (needs enterprise)')),
    line: Type.Optional(IdSchema('line (needs site)')),
    access_token: Type.Optional(Type.String({ maxLength: 4096, description: 'login token, for EventSource which cannot send an Authorization header' })),
  },
  { additionalProperties: false },
)

/** A client whose socket holds more than this unsent is cut: it cannot make the server buffer without end. */
const MAX_BUFFERED_BYTES = 1 << 20

/** One device in a `values` event. */
export interface StreamDevice {
  enterprise: string
  site: string
  line: string
  device: string
  name: string
  ts: number
  seq?: number
  values: Record<string, number>
  quality: Record<string, QualityName>
}

interface Client {
  raw: ServerResponse
  poll: LinePoll
  unsubscribe: () => void
}

function frame(event: string, json: string): string {
  return `event: ${event}\ndata: ${json}\n\n`
}

function write(client: Client, text: string): void {
  const raw = client.raw
  if (raw.destroyed || raw.writableEnded) return
  if (raw.writableLength > MAX_BUFFERED_BYTES) {
    raw.destroy()
    return
  }
  raw.write(text)
}

/**
 * After ingest's notice that a device in scope was stored, the poll reads this much later: the
 * notices of one burst of messages (several batches written within a few ms) become one read.
 */
export const PUSH_COALESCE_MS = 5

/**
 * Pushed reads of one poll start at least this far apart: under heavy ingest (batches back to back)
 * a subscription reads the store at most 20 times a second, not continuously.
 */
export const PUSH_MIN_GAP_MS = 50

/**
 * One poll of `store.latest` per distinct subscription (enterprise/site/line), shared by all its
 * clients; a device is sent when its newest sample (ts, seq, values, quality) differs from the last sent.
 *
 * It reads every `pollMs`, and — when ingest runs in the same process and tells the hub what it
 * stored — within PUSH_COALESCE_MS of a write of a device in its scope (PUSH_MIN_GAP_MS after the
 * previous read's start at the soonest): at most one read in flight, a notice during a read brings
 * one more read after it. The read is the same either way (the
 * subscription's own filter), so a push never shows more than the poll would.
 */
class LinePoll {
  readonly clients = new Set<Client>()
  private readonly current = new Map<string, { signature: string; device: StreamDevice }>()
  private ready = false
  private busy = false
  private failing = false
  private timer: NodeJS.Timeout | undefined
  /** A pushed read waiting out PUSH_COALESCE_MS. */
  private pushTimer: NodeJS.Timeout | undefined
  /** A notice came during a read: read once more when it ends. */
  private again = false
  /** When the last read started (ms, performance.now()). */
  private lastReadAt = Number.NEGATIVE_INFINITY
  private readonly unsubscribeStored: () => void

  constructor(
    private readonly ctx: ApiContext,
    scope: HubScope,
    private readonly filter: TagFilter | undefined,
    pollMs: number,
  ) {
    this.timer = setInterval(() => void this.tick(), pollMs)
    this.unsubscribeStored = ctx.hub?.onStored(scope, () => this.nudge()) ?? (() => {})
    void this.tick()
  }

  join(client: Client): void {
    this.clients.add(client)
    if (this.ready && this.current.size > 0) {
      write(client, frame('values', JSON.stringify({ ts: this.ctx.now(), devices: [...this.current.values()].map((c) => c.device) })))
    }
  }

  stop(): void {
    this.unsubscribeStored()
    clearInterval(this.timer)
    clearTimeout(this.pushTimer)
    this.timer = undefined
    this.pushTimer = undefined
  }

  /** Ingest stored a device in scope: read soon (coalesced), or right after the read under way. */
  private nudge(): void {
    if (this.timer === undefined || this.pushTimer !== undefined) return
    if (this.busy) {
      this.again = true
      return
    }
    const delayMs = Math.max(PUSH_COALESCE_MS, this.lastReadAt + PUSH_MIN_GAP_MS - performance.now())
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined
      if (this.busy) this.again = true
      else void this.tick()
    }, delayMs)
  }

  private broadcast(text: string): void {
    for (const c of this.clients) write(c, text)
  }

  private async tick(): Promise<void> {
    if (this.busy || this.timer === undefined) return
    this.busy = true
    this.again = false
    this.lastReadAt = performance.now()
    try {
      const now = this.ctx.now()
      const rows = await this.ctx.store.latest({
        measurement: TELEMETRY_MEASUREMENT,
        since: now - this.ctx.config.liveWindowS * 1000,
        ...(this.filter ? { filter: this.filter } : {}),
      })
      const changed: StreamDevice[] = []
      for (const s of snapshotsFromLatest(rows)) {
        const key = deviceKey(s)
        const signature = JSON.stringify([s.ts, s.seq, s.values, s.quality])
        if (this.current.get(key)?.signature === signature) continue
        const { seq, ...rest } = s
        const device: StreamDevice = { ...rest, ...(seq === null ? {} : { seq }), name: this.ctx.plant.get(s)?.name ?? s.device }
        this.current.set(key, { signature, device })
        changed.push(device)
      }
      this.ready = true
      this.failing = false
      if (changed.length > 0 && this.timer !== undefined) this.broadcast(frame('values', JSON.stringify({ ts: now, devices: changed })))
    } catch (err) {
      // Told once per outage, not every second; the stream stays open and resumes by itself.
      if (!this.failing) this.broadcast(frame('error', JSON.stringify(toErrorReply(err).body.error)))
      this.failing = true
    } finally {
      this.busy = false
      if (this.again) {
        this.again = false
        this.nudge()
      }
    }
  }
}

/**
 * GET /stream: Server-Sent Events of a line's (site's, enterprise's) live values — `event: values`
 * with the devices whose newest sample changed — and of the hub's events in scope (`event: alert` …),
 * with `: heartbeat` comments in between. Closed on client disconnect and on app.close().
 */
export const streamRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  const settings = streamSettings(ctx.config)
  const polls = new Map<string, LinePoll>()
  const clients = new Set<Client>()
  let heartbeat: NodeJS.Timeout | undefined

  const leave = (client: Client) => {
    if (!clients.delete(client)) return
    client.unsubscribe()
    client.poll.clients.delete(client)
    if (client.poll.clients.size === 0) {
      client.poll.stop()
      for (const [key, p] of polls) if (p === client.poll) polls.delete(key)
    }
    if (clients.size === 0) {
      clearInterval(heartbeat)
      heartbeat = undefined
    }
  }

  app.addHook('preClose', async () => {
    for (const client of [...clients]) {
      leave(client)
      client.raw.end()
    }
  })

  app.get(
    '/stream',
    {
      config: { permission: 'live', tokenInQuery: true },
      schema: {
        summary: 'Live values (every second, when changed) and alerts of a line, site or enterprise, as Server-Sent Events',
        description:
          'text/event-stream: `event: values` data `{ ts, devices: [{ enterprise, site, line, device, name, ts, seq?, values, quality }] }`; `event: alert` data `{ enterprise, site, line, data }`; `event: error` data `{ code, message }`; `: heartbeat` comments.',
        tags: ['telemetry'],
        querystring: StreamQuerySchema,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }), ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      if (csvRequested(req)) {
        return (reply as unknown as FastifyReply).code(406).send({
          error: { code: 'API_ERR_NOT_ACCEPTABLE', message: 'the live stream is text/event-stream; it has no CSV form (use /api/v1/live?format=csv)' },
        })
      }
      const q = req.query
      const enterprise = scopedEnterprise(req.principal, q.enterprise)
      if (enterprise === null) throw apiError('API_ERR_NOT_FOUND', `no enterprise ${JSON.stringify(q.enterprise)}`)
      if (q.site !== undefined && enterprise === undefined) {
        throw apiError('API_ERR_VALIDATION', 'query parameter "site" needs "enterprise"', [
          { parameter: 'site', in: 'querystring', message: 'needs enterprise' },
        ])
      }
      if (q.line !== undefined && q.site === undefined) {
        throw apiError('API_ERR_VALIDATION', 'query parameter "line" needs "site"', [{ parameter: 'line', in: 'querystring', message: 'needs site' }])
      }
      if (clients.size >= settings.maxClients) throw apiError('API_ERR_UNAVAILABLE', `too many open streams (${settings.maxClients}); try again later`)

      const scope: HubScope = {
        ...(enterprise === undefined ? {} : { enterprise }),
        ...(q.site === undefined ? {} : { site: q.site }),
        ...(q.line === undefined ? {} : { line: q.line }),
      }
      const key = `${scope.enterprise ?? '*'}/${scope.site ?? '*'}/${scope.line ?? '*'}`
      const filter = Object.keys(scope).length > 0 ? (scope as TagFilter) : undefined

      reply.hijack()
      const raw = reply.raw
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx: pass events through as they come instead of buffering the response
        'x-accel-buffering': 'no',
      })
      raw.write(`retry: 3000\n: connected ${key}\n\n`)

      let poll = polls.get(key)
      if (!poll) {
        poll = new LinePoll(ctx, scope, filter, settings.pollMs)
        polls.set(key, poll)
      }
      const client: Client = { raw, poll, unsubscribe: () => {} }
      client.unsubscribe = ctx.hub?.subscribe(scope, (d: HubDelivery) => write(client, frame(d.event.type, d.json))) ?? (() => {})
      clients.add(client)
      poll.join(client)
      heartbeat ??= setInterval(() => {
        for (const c of clients) write(c, `: heartbeat ${ctx.now()}\n\n`)
      }, settings.heartbeatMs)
      raw.on('close', () => leave(client))
      req.log.info({ stream: key, principal: req.principal.id, clients: clients.size }, 'stream opened')
    },
  )
}
