import {
  AttributeIds,
  ClientMonitoredItem,
  type ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  DeadbandType,
  TimestampsToReturn,
  type DataValue,
  type StatusCode,
} from 'node-opcua'
import type { Quality } from '../../core/payload.ts'
import { isPlantWattError, PlantWattError } from '../../core/errors.ts'
import type { EdgeDeviceConfig, OpcuaConnection } from '../config.ts'
import type { DriverCondition, DriverObserver, ObservableDriver } from '../device-table.ts'
import type { PointError, ReadResult } from '../driver.ts'
import { ConditionTracker } from './condition.ts'
import { checkOpcuaDevice, opcuaEndpointOf } from './lazy.ts'
import { routeOpcuaLibraryLog } from './library-log.ts'
import type { OpcuaPoint, OpcuaProfile } from './profile.ts'
import { type SessionLease, type SharedOpcuaSession, sharedOpcuaSession, within } from './session.ts'

export { disposeOpcuaCertificateManagers, ensureOpcuaCertificate, opcuaCertificateManager } from './certificates.ts'
export { opcuaSessionsInUse } from './session.ts'

// From the moment node-opcua is loaded, its console output goes to a device's logger (or nowhere).
routeOpcuaLibraryLog()

/** OPC UA Part 4, StatusCode: the two top bits are the severity: 00 good, 01 uncertain, 10/11 bad. */
function qualityOf(status: StatusCode): Quality {
  const severity = status.value >>> 30
  return severity === 0 ? 'good' : severity === 1 ? 'uncertain' : 'bad'
}

const NODE_ERRORS = new Set(['BadNodeIdUnknown', 'BadNodeIdInvalid', 'BadAttributeIdInvalid', 'BadNotReadable'])
/** What a notification carries when its node was deleted (Part 4 §5.7.4: Bad_NodeIdUnknown; node-opcua: BadNodeIdInvalid). */
const NODE_GONE = new Set(['BadNodeIdUnknown', 'BadNodeIdInvalid'])

/** A Variant's value as a number in the point's unit, or why not. */
export function toNumber(value: unknown, point: Pick<OpcuaPoint, 'scale' | 'offset' | 'map'>): { ok: true; value: number } | { ok: false; message: string } {
  let raw: number
  if (typeof value === 'number') raw = value
  else if (typeof value === 'boolean') raw = value ? 1 : 0
  else if (typeof value === 'bigint') raw = Number(value)
  else if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number'))
    raw = (value[0] as number) * 2 ** 32 + (value[1] as number) // node-opcua (U)Int64: [high, low]
  else if (typeof value === 'string') {
    const mapped = point.map && Object.hasOwn(point.map, value) ? point.map[value] : undefined
    if (mapped === undefined) return { ok: false, message: `text ${JSON.stringify(value)} is not in the point's map` }
    raw = mapped
  } else return { ok: false, message: `value ${JSON.stringify(value)} is not a number` }
  const scaled = raw * point.scale + point.offset
  return Number.isFinite(scaled) ? { ok: true, value: scaled } : { ok: false, message: `${raw} is not finite` }
}

class OpcuaDriver implements ObservableDriver {
  readonly kind = 'opcua'
  readonly endpoint: string
  /** The session this device is on (shared with the devices of the same endpoint and identity, or its own). */
  private shared: SharedOpcuaSession | undefined
  private lease: SessionLease | undefined
  /** Subscribe mode: the session's subscription for this device's publishing interval, and this device's items on it. */
  private subscription: ClientSubscription | undefined
  private items: ClientMonitoredItem[] = []
  private listener: ((result: ReadResult) => void) | undefined
  private observer: DriverObserver | undefined
  private readonly trouble = new ConditionTracker()
  /** Points that could not be monitored on this connection, or whose node went away since: reported bad with every read. */
  private itemErrors: PointError[] = []
  private pending: { point: OpcuaPoint; dv: DataValue }[] | undefined
  /** Quantities whose node is gone: what an orphaned monitored item may still send is not their value. */
  private gone = new Set<string>()

  constructor(
    private readonly conn: OpcuaConnection,
    readonly profile: OpcuaProfile,
    /** `enterprise/site/line/device`: whose session a `session: own` device holds. */
    private readonly device: string,
  ) {
    this.endpoint = opcuaEndpointOf(conn)
  }

  observe(observer: DriverObserver): void {
    this.observer = observer
    this.trouble.logger = observer.logger
    this.trouble.onChange = (c) => observer.onCondition(c)
    routeOpcuaLibraryLog(observer.logger)
  }

  condition(): DriverCondition | undefined {
    return this.trouble.get()
  }

  /** A connect or read failed: its cause becomes the condition, and every point is published bad for this poll. */
  private unreachable(err: PlantWattError): PlantWattError {
    this.trouble.set(err.code, err.message)
    const result: ReadResult = { ts: Date.now(), values: {}, quality: {}, errors: [] }
    for (const p of this.profile.points) result.quality[p.quantity] = 'bad'
    this.observer?.onUnreachable(result)
    return err
  }

  /** Connected: the condition is the first point that cannot be read, or nothing. */
  private settle(): void {
    const first = this.itemErrors[0]
    if (first) this.trouble.set(first.code, this.itemErrors.length > 1 ? `${first.message} (and ${this.itemErrors.length - 1} more points)` : first.message)
    else this.trouble.clear()
  }

  subscribe(onResult: (result: ReadResult) => void): () => void {
    this.listener = onResult
    return () => {
      if (this.listener === onResult) this.listener = undefined
    }
  }

  async connect(signal: AbortSignal): Promise<void> {
    try {
      await this.connectOnce(signal)
    } catch (err) {
      if (signal.aborted) throw err
      throw this.unreachable(
        isPlantWattError(err) ? err : new PlantWattError('EDGE_ERR_CONNECT', `cannot connect to ${this.endpoint}: ${(err as Error).message}`, { cause: err }),
      )
    }
    if (this.conn.mode === 'poll') this.itemErrors = []
    this.settle()
  }

  private async connectOnce(signal: AbortSignal): Promise<void> {
    await this.close()
    // Asked at every connect: a session whose last device left is no longer in the pool.
    const shared = sharedOpcuaSession(this.conn, this.device)
    this.shared = shared
    const lease = await shared.acquire(this, signal)
    this.lease = lease
    signal.throwIfAborted()
    if (this.conn.mode !== 'subscribe') return
    const subscription = await shared.subscription(lease, this.conn.publishingIntervalMs).catch((err: unknown) => {
      shared.fail(lease) // a session that cannot make a subscription is of no use to anyone: open a new one
      throw err
    })
    if (!shared.isCurrent(lease)) throw new PlantWattError('EDGE_ERR_CONNECTION', `${this.endpoint}: connection lost while subscribing`)
    this.subscription = subscription
    await this.monitor(subscription)
  }

  /** This device's monitored items on the (shared) subscription; items that cannot be monitored are point errors. */
  private async monitor(subscription: ClientSubscription): Promise<void> {
    const c = this.conn
    this.itemErrors = []
    this.gone = new Set()
    const filter =
      c.deadband === 'none'
        ? null
        : new DataChangeFilter({
            trigger: DataChangeTrigger.StatusValue,
            deadbandType: c.deadband === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
            deadbandValue: c.deadbandValue,
          })
    const items = this.profile.points.map((point) => {
      // Listen before the item exists on the server: the first value can come in the first publish
      // response, and an event without a listener is lost.
      const item: ClientMonitoredItem = ClientMonitoredItem.create(
        subscription,
        { nodeId: point.nodeId, attributeId: AttributeIds.Value },
        { samplingInterval: c.samplingIntervalMs, queueSize: c.queueSize, discardOldest: true, filter },
        TimestampsToReturn.Both,
      )
      item.on('changed', (dv: DataValue) => this.collect(point, dv))
      const ready = new Promise<void>((resolve, reject) => {
        item.once('initialized', () => resolve())
        item.once('err', (message: unknown) => reject(new Error(String(message))))
      })
      ready.catch(() => {})
      this.items.push(item)
      return { point, item, ready }
    })
    // Created together (a request each, not waiting for one another), then their answers in order.
    for (const { point, item, ready } of items) {
      try {
        await within(c.timeoutMs, `monitor ${point.nodeId}`, ready)
      } catch (err) {
        this.itemErrors.push(this.pointError(point, /Bad\w+/.exec((err as Error).message)?.[0] ?? (err as Error).message))
        continue
      }
      const status = item.statusCode
      if (qualityOf(status) === 'bad') this.itemErrors.push(this.pointError(point, status.name))
    }
  }

  /** Deletes this device's monitored items from the server (the subscription stays: others may use it). */
  private async unmonitor(): Promise<void> {
    const items = this.items
    this.items = []
    for (const item of items) item.removeAllListeners('changed')
    await Promise.all(items.map((item) => within(1000, 'delete monitored item', item.terminate()).catch(() => {})))
  }

  private pointError(point: OpcuaPoint, status: string): PointError {
    const code = NODE_ERRORS.has(status) || /BadNodeId/.test(status) ? 'EDGE_ERR_OPCUA_NODE' : 'EDGE_ERR_OPCUA_STATUS'
    return { point: point.quantity, code, message: `${this.endpoint} node ${point.nodeId}: ${status}` }
  }

  /** One DataValue into a result: a bad status is quality 'bad' and never a number. */
  private apply(point: OpcuaPoint, dv: DataValue, into: { values: Record<string, number>; quality: Record<string, Quality>; errors: PointError[] }): void {
    const quality = qualityOf(dv.statusCode)
    if (quality === 'bad') {
      into.quality[point.quantity] = 'bad'
      into.errors.push(this.pointError(point, dv.statusCode.name))
      return
    }
    const n = toNumber(dv.value?.value, point)
    if (!n.ok) {
      into.quality[point.quantity] = 'bad'
      into.errors.push({ point: point.quantity, code: 'EDGE_ERR_DECODE', message: `${this.endpoint} node ${point.nodeId}: ${n.message}` })
      return
    }
    into.values[point.quantity] = n.value
    if (quality === 'uncertain') into.quality[point.quantity] = 'uncertain'
  }

  /**
   * Notifications of one publish response arrive synchronously: gather them, then hand them on as
   * one sample (ts: the newest source timestamp). When the server queued several values of one item
   * (queueSize > 1 with a sampling interval shorter than the publishing interval), one sample per
   * source timestamp instead, oldest first, so no queued value is overwritten by a later one.
   */
  private collect(point: OpcuaPoint, dv: DataValue): void {
    if (this.gone.size > 0 && this.gone.has(point.quantity)) return
    // A notification that says the node is gone (OPC UA Part 4 §5.7.4: a deleted node's monitored
    // items get Bad_NodeIdUnknown; node-opcua sends BadNodeIdInvalid): the point is bad from this
    // sample on, and the next poll's check confirms it with a Read as the device's trouble.
    if (dv.statusCode.value !== 0 && NODE_GONE.has(dv.statusCode.name)) this.gone.add(point.quantity)
    if (!this.pending) {
      const notes: { point: OpcuaPoint; dv: DataValue }[] = []
      this.pending = notes
      setImmediate(() => {
        if (this.pending === notes) this.pending = undefined
        const listener = this.listener
        if (listener) for (const result of this.results(notes)) listener(result)
      })
    }
    this.pending.push({ point, dv })
  }

  private results(notes: readonly { point: OpcuaPoint; dv: DataValue }[]): ReadResult[] {
    const tsOf = (dv: DataValue) => (dv.sourceTimestamp ?? dv.serverTimestamp)?.getTime() ?? Date.now()
    const seen = new Set<OpcuaPoint>()
    let repeated = false
    for (const n of notes) {
      if (seen.has(n.point)) repeated = true
      seen.add(n.point)
    }
    if (!repeated) {
      const one: ReadResult = { values: {}, quality: {}, errors: [], ts: 0 }
      for (const n of notes) {
        one.ts = Math.max(one.ts, tsOf(n.dv))
        this.apply(n.point, n.dv, one)
      }
      return [one]
    }
    const byTs = new Map<number, ReadResult>()
    for (const n of notes) {
      const ts = tsOf(n.dv)
      let r = byTs.get(ts)
      if (!r) byTs.set(ts, (r = { values: {}, quality: {}, errors: [], ts }))
      this.apply(n.point, n.dv, r)
    }
    return [...byTs.values()].sort((a, b) => a.ts - b.ts)
  }

  async read(signal: AbortSignal): Promise<ReadResult> {
    try {
      return await this.readOnce(signal)
    } catch (err) {
      if (signal.aborted || !isPlantWattError(err)) throw err
      throw this.unreachable(err)
    }
  }

  private async readOnce(signal: AbortSignal): Promise<ReadResult> {
    const { lease, shared } = this
    if (!lease || !shared?.isCurrent(lease)) {
      if (lease) await this.close()
      throw new PlantWattError(lease ? 'EDGE_ERR_CONNECTION' : 'EDGE_ERR_NOT_CONNECTED', `${this.endpoint}: ${lease ? 'connection lost' : 'not connected'}`)
    }
    signal.throwIfAborted()
    const points = this.profile.points
    const subscribed = this.conn.mode === 'subscribe'
    // Subscribe mode: values arrive through `subscribe`; a poll checks the link and that every node
    // still exists (a server that deletes a node need not tell its monitored items: not all do).
    // Reading only the nodes heard from since the last poll was tried: no less CPU once node-opcua's
    // code is compiled, and V8 then collected the old generation far more often (README, Measured).
    const values = await this.readNodes(
      shared,
      lease,
      points.map((p) => ({ nodeId: p.nodeId, attributeId: subscribed ? AttributeIds.NodeId : AttributeIds.Value })),
    )
    const result = { ts: Date.now(), values: {} as Record<string, number>, quality: {} as Record<string, Quality>, errors: [] as PointError[] }
    if (subscribed) await this.checkNodes(points, values, result)
    else {
      points.forEach((p, i) => {
        this.apply(p, values[i] as DataValue, result)
      })
      this.itemErrors = result.errors
    }
    this.settle()
    return result
  }

  /** One Read; a failure ends the session for every device on it (the next poll of each reconnects). */
  private async readNodes(shared: SharedOpcuaSession, lease: SessionLease, request: { nodeId: string; attributeId: number }[]): Promise<DataValue[]> {
    const started = performance.now()
    try {
      return await within(this.conn.timeoutMs, 'read', shared.read(lease, request))
    } catch (cause) {
      shared.fail(lease)
      await this.close()
      // No answer within timeoutMs is a timeout, as for every driver, whichever fires first: ours,
      // node-opcua's transaction timeout, or its transport timeout (reported as "Connection Break").
      // A failure before that means the session or channel is gone.
      const timedOut =
        (cause instanceof PlantWattError && cause.code === 'EDGE_ERR_TIMEOUT') ||
        /timed? ?out/i.test((cause as Error).message) ||
        performance.now() - started >= this.conn.timeoutMs
      const what = timedOut ? `no answer to read within ${this.conn.timeoutMs} ms` : 'read failed'
      throw new PlantWattError(timedOut ? 'EDGE_ERR_TIMEOUT' : 'EDGE_ERR_CONNECTION', `${this.endpoint}: ${what}: ${(cause as Error).message}`, { cause })
    }
  }

  /** Quantities known to lack their node: refused at connect, found gone by a check, or notified gone. */
  private missingNodes(): Set<string> {
    const missing = new Set(this.gone)
    for (const e of this.itemErrors) if (e.code === 'EDGE_ERR_OPCUA_NODE') missing.add(e.point)
    return missing
  }

  /**
   * Subscribe mode: a node that went away is bad from now on (and logged as the device's trouble);
   * one that is back, or that could not be monitored at connect and now exists, is monitored again.
   * `read` are the points checked by this poll's Read (`found`, same order).
   */
  private async checkNodes(read: readonly OpcuaPoint[], found: readonly DataValue[], into: ReadResult): Promise<void> {
    const missing = this.missingNodes()
    let back = false
    const errors: PointError[] = []
    read.forEach((p, i) => {
      const status = (found[i] as DataValue).statusCode
      if (qualityOf(status) === 'bad' && NODE_ERRORS.has(status.name))
        errors.push(this.pointError(p, `${status.name} (no longer in the server's address space)`))
      else if (missing.has(p.quantity)) back = true
    })
    // Items refused for another reason than a missing node (access, sampling) stay as they were.
    for (const e of this.itemErrors) if (e.code !== 'EDGE_ERR_OPCUA_NODE' && !errors.some((x) => x.point === e.point)) errors.push(e)
    if (back && this.subscription) {
      // Only this device's items are made again: the subscription is shared.
      await this.unmonitor()
      await this.monitor(this.subscription)
      for (const e of this.itemErrors) if (!errors.some((x) => x.point === e.point)) errors.push(e)
    }
    this.itemErrors = errors
    // Gone: what this check found missing, and what was notified gone while it read (checked next poll).
    const checked = new Set<string>(read.map((p) => p.quantity))
    const notified = [...this.gone].filter((q) => !checked.has(q))
    this.gone = new Set(errors.filter((e) => e.code === 'EDGE_ERR_OPCUA_NODE').map((e) => e.point))
    for (const q of notified) this.gone.add(q)
    for (const e of errors) into.quality[e.point] = 'bad'
    into.errors.push(...errors)
  }

  /** Leaves the session: this device's items are deleted if others go on using it; the last device closes it. */
  async close(): Promise<void> {
    const { shared, lease } = this
    this.shared = undefined
    this.lease = undefined
    this.subscription = undefined
    this.pending = undefined
    if (shared && lease && shared.isCurrent(lease) && shared.size > 1) await this.unmonitor()
    else this.items = []
    await shared?.release(this)
  }
}

/**
 * An OPC UA driver for one device (`driver: opcua`, settings under `opcua:`). No I/O until
 * `connect`. In `subscribe` mode values are pushed through `subscribe` as the server publishes
 * them; in `poll` mode `read` uses the Read service. Each value's StatusCode becomes its quality.
 */
export function createOpcuaDriver(device: EdgeDeviceConfig, profile: OpcuaProfile): ObservableDriver {
  return new OpcuaDriver(checkOpcuaDevice(device), profile, `${device.enterprise}/${device.site}/${device.line}/${device.device}`)
}
