import type { Logger } from '../core/logger.ts'
import type { Sample } from '../core/payload.ts'
import type { DeviceAddress } from '../core/topic.ts'
import type { EdgeConfig, EdgeDeviceConfig } from './config.ts'
import type { Driver, ReadResult } from './driver.ts'
import { configuredEndpoint } from './drivers.ts'
import { deviceKey, type Outbox, type OutboxBatch } from './outbox.ts'
import { DevicePoller, type LastError } from './poller.ts'
import type { DeviceProfileError } from './profile-error.ts'
import type { StateCounters } from './publisher.ts'
import { toSample } from './sample.ts'
import type { DeviceSetup } from './setup.ts'
import { type WireCounts, wireCountsOf } from './wire-counts.ts'

/** A driver's current trouble (connection, certificate, a node gone), carried by its device's retained state. */
export interface DriverCondition {
  /** e.g. EDGE_ERR_CONNECT, EDGE_ERR_OPCUA_CERTIFICATE, EDGE_ERR_OPCUA_NODE */
  code: string
  message: string
  /** Epoch ms this cause began. */
  since: number
}

/** What the table hands a driver that reports more than its reads (OPC UA does). */
export interface DriverObserver {
  /** The device's logger (the driver's library output goes there too, at debug). */
  logger: Logger
  /** The cause changed; undefined when nothing is wrong any more. */
  onCondition(condition: DriverCondition | undefined): void
  /** A result the poller never sees: every point bad while the device cannot be reached. */
  onUnreachable(result: ReadResult): void
}

/** A driver with a current condition, detected by `observe`. */
export interface ObservableDriver extends Driver {
  observe(observer: DriverObserver): void
  condition(): DriverCondition | undefined
}

function wireOf(e: DeviceEntry): { wire?: WireCounts } {
  const wire = e.poller ? wireCountsOf(e.poller.driver) : undefined
  return wire ? { wire } : {}
}

function isObservable(driver: Driver): driver is ObservableDriver {
  const d = driver as Partial<ObservableDriver>
  return typeof d.observe === 'function' && typeof d.condition === 'function'
}

/** Per-device counters, as `status()` reports them. */
export interface DeviceStatus {
  /** `enterprise/site/line/device` */
  key: string
  address: DeviceAddress
  driver: string
  endpoint: string
  /** The driver holds a working connection to the device. */
  connected: boolean
  reads: number
  readErrors: number
  /** Points reported bad, summed over all reads. */
  pointErrors: number
  /** Values handed on for publishing (good or uncertain), summed over all reads. */
  values: number
  /** Poll ticks skipped because a poll overran its interval. */
  overruns: number
  /** Epoch ms of the last successful read. */
  lastReadTs: number | null
  lastError: LastError | null
  /** Samples delivered to the broker (acknowledged for QoS 1). */
  publishedSamples: number
  publishedMessages: number
  /** `seq` of the next data message (one past the last delivered). */
  nextSeq: number
  outboxDepth: number
  dropped: number
  /** False when the device is left out of polling because its profile could not be loaded or validated. */
  polling: boolean
  /** Why the device is not polled: the profile's code, message and every problem (each with its code); null for a polled device. */
  profileError: DeviceProfileError | null
  /** DL/T 645 and CJ/T 188 devices: requests and bad replies by kind, as the driver counted them (wire-counts.ts); absent for other drivers. */
  wire?: WireCounts
}

/** One configured device: its poller (absent when its profile failed) and what was delivered of it. */
export interface DeviceEntry {
  key: string
  address: DeviceAddress
  driver: string
  endpoint: string
  /** Absent for a device left out of polling (`profileError` says why). */
  poller?: DevicePoller
  profileError?: DeviceProfileError
  /** The driver's current trouble as the state message carries it (no profile problems); absent for drivers without one. */
  stateError?: () => DeviceProfileError | undefined
  publishedSamples: number
  publishedMessages: number
  nextSeq: number
}

/** What a device's poller reports to the rest of the agent. */
export interface DeviceHooks {
  onSample(address: DeviceAddress, sample: Sample): void
  onConnectionChange(entry: DeviceEntry, connected: boolean): void
}

/**
 * The agent's devices: one poller per device with a driver, a record of each device left out
 * (profile error, logged once at start), and the counters of what was delivered, per device and
 * for the agent. Answers the counters of state messages and the device rows of `status()`.
 */
export class DeviceTable {
  /** Data messages delivered (acknowledged for QoS 1). */
  publishedMessages = 0
  /** Data publishes that failed (their samples stay in the outbox). */
  publishFailures = 0
  private readonly entries = new Map<string, DeviceEntry>()

  /**
   * @param startedAt epoch ms the agent started: the time of a profile error.
   */
  constructor(
    private readonly outbox: Outbox,
    private readonly startedAt: number,
  ) {}

  /** Creates each device's poller (not started); `setups` aligned with `config.devices`. */
  add(config: EdgeConfig, setups: readonly DeviceSetup[], hooks: DeviceHooks, logger: Logger): void {
    config.devices.forEach((d, i) => {
      const address: DeviceAddress = { enterprise: d.enterprise, site: d.site, line: d.line, device: d.device }
      const key = deviceKey(address)
      const setup = setups[i] as DeviceSetup
      // A disk outbox continues numbering where the last run stopped.
      const nextSeq = this.outbox.nextSeq(key)
      if (!setup.driver) {
        const profileError = setup.profileError
        const endpoint = configuredEndpoint(d as EdgeDeviceConfig)
        // Once, at start: the device stays out until the profile is fixed and the agent restarted.
        logger.error(
          { device: key, endpoint, profile: d.profile, code: profileError.code, problems: profileError.problems },
          `device not polled: ${profileError.code}: ${profileError.message}`,
        )
        this.entries.set(key, { key, address, driver: d.driver, endpoint, profileError, publishedSamples: 0, publishedMessages: 0, nextSeq })
        return
      }
      const driver = setup.driver
      const entry: DeviceEntry = { key, address, driver: driver.kind, endpoint: driver.endpoint, publishedSamples: 0, publishedMessages: 0, nextSeq }
      entry.poller = new DevicePoller(
        d as EdgeDeviceConfig,
        driver,
        { onSample: (sample) => hooks.onSample(address, sample), onConnectionChange: (connected) => hooks.onConnectionChange(entry, connected) },
        logger.child({ device: key, driver: driver.kind }),
      )
      if (isObservable(driver)) this.observe(entry, driver, d.profile, hooks, logger.child({ device: key, driver: driver.kind }))
      this.entries.set(key, entry)
    })
  }

  /**
   * The driver's condition goes into the device's state (republished when it changes, once the
   * poller has seen the connect or failure that changed it), its outage results straight to the outbox.
   */
  private observe(entry: DeviceEntry, driver: ObservableDriver, profile: string, hooks: DeviceHooks, logger: Logger): void {
    entry.stateError = () => {
      const c = driver.condition()
      return c ? { code: c.code, message: c.message, profile, problems: [] } : undefined
    }
    let pending = false
    driver.observe({
      logger,
      onCondition: () => {
        if (pending) return
        pending = true
        setImmediate(() => {
          pending = false
          hooks.onConnectionChange(entry, entry.poller?.connected ?? false)
        })
      },
      onUnreachable: (result) => {
        const { sample } = toSample(result)
        if (sample) hooks.onSample(entry.address, sample)
      },
    })
  }

  all(): IterableIterator<DeviceEntry> {
    return this.entries.values()
  }

  get size(): number {
    return this.entries.size
  }

  /** Devices left out of polling. */
  get notPolled(): number {
    return [...this.entries.values()].filter((e) => !e.poller).length
  }

  start(): void {
    for (const e of this.entries.values()) e.poller?.start()
  }

  /** Stops every poller and closes its driver. */
  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.poller?.close()))
  }

  /** A data message was delivered: its device's counters and `seq` move on. */
  delivered(batch: OutboxBatch): void {
    this.publishedMessages++
    const e = this.entries.get(batch.key)
    if (!e) return
    e.publishedMessages++
    e.publishedSamples += batch.samples.length
    e.nextSeq = batch.seq + 1
  }

  failed(): void {
    this.publishFailures++
  }

  /** Counters of one device's state message (with `wire` for DL/T 645 and CJ/T 188 devices: their bad frames by kind). */
  countersOf(key: string): StateCounters & { wire?: WireCounts } {
    const e = this.entries.get(key)
    const c = e?.poller?.counters
    return {
      reads: c?.reads ?? 0,
      readErrors: c?.readErrors ?? 0,
      pointErrors: c?.pointErrors ?? 0,
      published: e?.publishedSamples ?? 0,
      bufferDepth: this.outbox.depth(key),
      dropped: this.outbox.dropped(key),
      ...(e ? wireOf(e) : {}),
    }
  }

  /** The agent's own counters: its devices' summed (buffer depth and drops of the whole outbox). */
  agentCounters(): StateCounters {
    const sum: StateCounters = { reads: 0, readErrors: 0, pointErrors: 0, published: 0, bufferDepth: this.outbox.depth(), dropped: this.outbox.dropped() }
    for (const e of this.entries.values()) {
      if (!e.poller) continue
      sum.reads += e.poller.counters.reads
      sum.readErrors += e.poller.counters.readErrors
      sum.pointErrors += e.poller.counters.pointErrors
      sum.published += e.publishedSamples
    }
    return sum
  }

  /** Each device's row of `status()` (copies: the caller may keep them). */
  status(): DeviceStatus[] {
    return [...this.entries.values()].map((e) => {
      const c = e.poller?.counters
      return {
        key: e.key,
        address: { ...e.address },
        driver: e.driver,
        endpoint: e.endpoint,
        connected: e.poller?.connected ?? false,
        reads: c?.reads ?? 0,
        readErrors: c?.readErrors ?? 0,
        pointErrors: c?.pointErrors ?? 0,
        values: c?.values ?? 0,
        overruns: c?.overruns ?? 0,
        lastReadTs: c?.lastReadTs ?? null,
        lastError: this.lastErrorOf(e),
        polling: e.poller !== undefined,
        profileError: e.profileError ? { ...e.profileError, problems: e.profileError.problems.map((p) => ({ ...p })) } : null,
        publishedSamples: e.publishedSamples,
        publishedMessages: e.publishedMessages,
        nextSeq: e.nextSeq,
        outboxDepth: this.outbox.depth(e.key),
        dropped: this.outbox.dropped(e.key),
        ...wireOf(e),
      }
    })
  }

  private lastErrorOf(e: DeviceEntry): LastError | null {
    if (e.profileError) return { code: e.profileError.code, message: e.profileError.message, ts: this.startedAt }
    const last = e.poller?.counters.lastError
    return last ? { ...last } : null
  }
}
