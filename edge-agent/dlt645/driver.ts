import { setTimeout as sleep } from 'node:timers/promises'
import { PlantWattError } from '../../core/errors.ts'
import type { Quality } from '../../core/payload.ts'
import type { EdgeDeviceConfig } from '../config.ts'
import type { Driver, PointError, ReadResult } from '../driver.ts'
import { type Dlt645Bus, dlt645Bus } from './bus.ts'
import { ExchangeError } from './bus.ts'
import { CONTROL, readAddressRequest, readRequest } from './codec.ts'
import { type Dlt645Profile, type Dlt645Request, planDlt645Requests } from './profile.ts'
import { checkReadReply, pointValue } from './reply.ts'
import type { Dlt645Connection } from './schema.ts'
import { countFailure, emptyWireCounts, type WireCounts, type WireCountingDriver } from '../wire-counts.ts'

const TRANSIENT = new Set(['EDGE_ERR_TIMEOUT', 'EDGE_ERR_CHECKSUM', 'EDGE_ERR_FRAME'])
type Failure = { code: string; message: string; truncated?: boolean }

class Dlt645Driver implements Driver {
  readonly kind = 'dlt645'
  readonly endpoint: string
  private readonly conn: Dlt645Connection
  private readonly bus: Dlt645Bus
  private readonly requests: Dlt645Request[]
  private acquired = false
  /** The configured address, or the one discovery found. */
  private address: string | undefined
  private readonly counts: WireCounts = emptyWireCounts()

  constructor(
    private readonly device: EdgeDeviceConfig,
    readonly profile: Dlt645Profile,
  ) {
    this.conn = device.dlt645 as Dlt645Connection
    this.endpoint = dlt645EndpointOf(this.conn)
    this.bus = dlt645Bus(this.conn)
    this.requests = planDlt645Requests(profile)
    if (this.conn.address !== 'discover') this.address = this.conn.address
  }

  wireCounts(): WireCounts {
    return { ...this.counts }
  }

  /** The meter's address: configured, or found by discovery at connect. */
  get meterAddress(): string | undefined {
    return this.address
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.close()
    await this.bus.acquire(signal, this.conn.timeoutMs)
    this.acquired = true
    if (this.conn.address !== 'discover') return
    try {
      this.address = await this.bus.exclusive(() => this.discover(signal))
    } catch (cause) {
      await this.close()
      if (cause instanceof PlantWattError) throw cause
      const f = this.failure(cause)
      const code = f.code === 'EDGE_ERR_CONNECTION' ? 'EDGE_ERR_CONNECTION' : 'EDGE_ERR_DISCOVER'
      throw new PlantWattError(code, `${this.endpoint}: address discovery (C=0x13 to AAAAAAAAAAAA) failed: ${f.message}`, { cause })
    }
  }

  /** DL/T 645-2007 §7.2 read address: only one meter may be on the bus, or the replies collide. */
  private async discover(signal: AbortSignal): Promise<string> {
    const frame = await this.bus.exchange(readAddressRequest(this.conn.preambleBytes), this.conn.timeoutMs, signal)
    if (frame.control !== (CONTROL.readAddress | 0x80)) {
      throw new PlantWattError('EDGE_ERR_DISCOVER', `${this.endpoint}: reply control 0x${frame.control.toString(16)} to a read-address request (expected 0x93)`)
    }
    if (!/^[0-9]{12}$/.test(frame.address))
      throw new PlantWattError('EDGE_ERR_DISCOVER', `${this.endpoint}: discovered address ${frame.address} is not 12 BCD digits`)
    return frame.address
  }

  async read(signal: AbortSignal): Promise<ReadResult> {
    if (!this.acquired || !this.bus.isOpen || this.address === undefined) throw new PlantWattError('EDGE_ERR_NOT_CONNECTED', `${this.endpoint}: not connected`)
    const address = this.address
    return this.bus.exclusive(() => this.readAll(address, signal))
  }

  private async readAll(address: string, signal: AbortSignal): Promise<ReadResult> {
    const values: Record<string, number> = {}
    const quality: Record<string, Quality> = {}
    const errors: PointError[] = []
    const bad = (req: Dlt645Request, f: Failure, points = req.points) => {
      for (const p of points) {
        quality[p.quantity] = 'bad'
        errors.push({ point: p.quantity, code: f.code, message: `${this.endpoint} ${req.di}: ${f.message}` })
      }
    }
    // On a shared bus a meter that does not answer would hold the line for every request of its
    // poll: after its first unanswered request the rest of the poll is skipped.
    let skip: Failure | undefined
    let timeouts = 0
    for (const req of this.requests) {
      signal.throwIfAborted()
      if (skip) {
        timeouts++
        bad(req, skip)
        continue
      }
      const reply = await this.request(address, req, signal)
      if ('code' in reply) {
        if (reply.code === 'EDGE_ERR_TIMEOUT') {
          timeouts++
          skip = { code: 'EDGE_ERR_TIMEOUT', message: `skipped: meter ${address} did not answer ${req.di}` }
        }
        bad(req, reply)
        continue
      }
      for (const p of req.points) {
        const v = pointValue(reply.data, p)
        if ('value' in v) values[p.quantity] = v.value
        else {
          countFailure(this.counts, v.code)
          bad(req, v, [p])
        }
      }
    }
    if (this.requests.length > 0 && timeouts === this.requests.length) {
      // Nothing answered: release the link (a half-open DTU connection never recovers by itself).
      await this.close()
      throw new PlantWattError('EDGE_ERR_TIMEOUT', `${this.endpoint}: no reply to any of ${this.requests.length} request(s) within ${this.conn.timeoutMs} ms`)
    }
    return { ts: Date.now(), values, quality, errors }
  }

  /** One identifier, with retries for what may pass (timeout, garbled frame); the link lost is thrown. */
  private async request(address: string, req: Dlt645Request, signal: AbortSignal): Promise<{ data: Uint8Array } | Failure> {
    const frame = readRequest(address, req.di, this.conn.preambleBytes)
    for (let attempt = 0; ; attempt++) {
      let outcome: { data: Uint8Array } | Failure
      this.counts.requests++
      try {
        const reply = await this.bus.exchange(frame, this.conn.timeoutMs, signal)
        this.counts.replies++
        if (reply.resynced) this.counts.resynced++
        outcome = checkReadReply(reply, address, req.di, this.profile.protocol)
      } catch (err) {
        signal.throwIfAborted()
        outcome = this.failure(err)
        if (outcome.code === 'EDGE_ERR_CONNECTION') {
          await this.close()
          throw new PlantWattError('EDGE_ERR_CONNECTION', `${this.endpoint}: connection lost reading ${req.di}: ${outcome.message}`, { cause: err })
        }
      }
      if ('data' in outcome) return outcome
      countFailure(this.counts, outcome.code, outcome.truncated === true)
      if (!TRANSIENT.has(outcome.code) || attempt >= this.device.retries) return outcome
      const backoff = this.device.retryBackoffMs * 2 ** attempt
      if (backoff > 0) await sleep(backoff, undefined, { signal })
    }
  }

  private failure(err: unknown): Failure {
    if (err instanceof ExchangeError) return { code: err.code, message: err.message, truncated: err.truncated }
    return { code: 'EDGE_ERR_CONNECTION', message: err instanceof Error ? err.message : String(err) }
  }

  async close(): Promise<void> {
    if (!this.acquired) return
    this.acquired = false
    if (this.conn.address === 'discover') this.address = undefined
    this.bus.release()
  }
}

/** How a device is named in errors: `dlt645:/dev/ttyUSB0 2400 8E1 meter 000000123456`, `dlt645-tcp://10.0.0.9:8899 meter …`. */
export function dlt645EndpointOf(c: Dlt645Connection): string {
  const meter = `meter ${c.address}`
  if (c.transport === 'tcp') return `dlt645-tcp://${c.host ?? '?'}:${c.port ?? '?'} ${meter}`
  return `dlt645:${c.path ?? '?'} ${c.baudRate} ${c.dataBits}${c.parity[0]?.toUpperCase()}${c.stopBits} ${meter}`
}

/** Checks a DL/T 645 device's settings (not its profile); throws EDGE_ERR_DRIVER_CONFIG naming every problem. */
export function checkDlt645Device(device: EdgeDeviceConfig): void {
  const problems: string[] = []
  const c = device.dlt645
  if (device.driver !== 'dlt645') problems.push(`driver ${JSON.stringify(device.driver)} is not dlt645`)
  if (c === undefined) problems.push('driver dlt645 needs a dlt645: section (transport, path or host/port, address)')
  else if (c.transport === 'serial') {
    if (c.path === undefined) problems.push('transport serial needs path (e.g. /dev/ttyUSB0)')
    if (c.host !== undefined || c.port !== undefined) problems.push('host and port are for transport tcp (a DTU)')
  } else {
    if (c.host === undefined || c.port === undefined) problems.push('transport tcp needs host and port (the DTU)')
    if (c.path !== undefined) problems.push('path is for transport serial')
  }
  if (device.opcua !== undefined) problems.push('the opcua: section is for driver opcua only')
  if (problems.length > 0) throw new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `device ${device.device}: dlt645: ${problems.join('; ')}`, { details: problems })
}

/**
 * A DL/T 645 driver for one meter. Validates; does no I/O until `connect` (which joins the meter's
 * bus, shared with every other meter on the same serial path or DTU, and discovers the address when
 * asked to). A timeout, a garbled frame, an error reply or a bad BCD digit marks only the points of
 * that identifier bad; a lost link or a meter that answers nothing makes `read` throw.
 */
export function createDlt645Driver(device: EdgeDeviceConfig, profile: Dlt645Profile): WireCountingDriver & { readonly meterAddress: string | undefined } {
  checkDlt645Device(device)
  if (device.dlt645?.address === 'discover' && profile.protocol === '1997')
    // 1997 defines no read-address command: C=13H is 2007's (§7.2), a 1997 meter stays silent on it.
    throw new PlantWattError(
      'EDGE_ERR_DRIVER_CONFIG',
      `device ${device.device}: dlt645: address discover reads the address with DL/T 645-2007's C=13H, which DL/T 645-1997 (profile ${profile.name}) does not define: set the meter's printed address`,
    )
  return new Dlt645Driver(device, profile)
}
