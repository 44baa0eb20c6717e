import { setTimeout as sleep } from 'node:timers/promises'
import { PlantWattError } from '../../core/errors.ts'
import type { Quality } from '../../core/payload.ts'
import type { EdgeDeviceConfig } from '../config.ts'
import type { Driver, PointError, ReadResult } from '../driver.ts'
import { type BusLocation, busFor, type Cjt188Bus, type Transaction } from './bus.ts'
import { decodeReading, quantityOf, STATUS_QUANTITIES, statusReading } from './decode.ts'
import {
  addressToText,
  addressToWire,
  CONTROL_ABNORMAL,
  CONTROL_READ_DATA,
  CONTROL_REPLY,
  type Cjt188Frame,
  DI_METER_DATA,
  encodeDi,
  hex,
  readDataRequest,
} from './frame.ts'
import type { Cjt188Profile } from './profiles.ts'
import type { Cjt188Connection } from './schema.ts'
import { countFailure, emptyWireCounts, type WireCounts, type WireCountingDriver } from '../wire-counts.ts'

/** DI (2) and SER (1) before a reply's values. */
const DATA_HEAD = 3

type FrameCheck = { ok: true } | { ok: false; code: string; message: string }

/** The serial line or gateway of a device, defaults applied (2400 8E1: the usual meter setting). */
export function cjt188Location(c: Cjt188Connection): BusLocation {
  if (c.transport === 'tcp') return { transport: 'tcp', host: c.host ?? '', port: c.port ?? 0 }
  return {
    transport: 'serial',
    path: c.path ?? '',
    baudRate: c.baudRate ?? 2400,
    parity: c.parity ?? 'even',
    dataBits: c.dataBits ?? 8,
    stopBits: c.stopBits ?? 1,
  }
}

/** How a meter is named in errors and status: `serial:/dev/ttyUSB0 2400 8E1 meter 20:78330011223344`. */
export function cjt188EndpointOf(c: Cjt188Connection, meterType: number): string {
  const loc = cjt188Location(c)
  const bus =
    loc.transport === 'tcp'
      ? `tcp://${loc.host}:${loc.port}`
      : `serial:${loc.path} ${loc.baudRate} ${loc.dataBits}${loc.parity[0]?.toUpperCase()}${loc.stopBits}`
  return `${bus} meter ${hex(meterType)}:${c.address.toUpperCase()}`
}

const DEFAULT_CONNECTION = { transport: 'tcp', port: 502, unitId: 1, timeoutMs: 1000 }

/** Checks a CJ/T 188 device's settings (not its profile); throws EDGE_ERR_DRIVER_CONFIG. */
export function checkCjt188Device(device: EdgeDeviceConfig): Cjt188Connection {
  const fail = (problems: string[]) => new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `device ${device.device}: ${problems.join('; ')}`, { details: problems })
  if (device.driver !== 'cjt188') throw fail([`driver ${JSON.stringify(device.driver)} is not cjt188`])
  const c = device.cjt188
  if (!c) throw fail(['driver cjt188 needs a cjt188: section (transport, path or host and port, address)'])
  const problems: string[] = []
  if (c.transport === 'serial') {
    if (c.path === undefined) problems.push('transport serial needs path (e.g. /dev/ttyUSB0)')
    if (c.host !== undefined || c.port !== undefined) problems.push('host and port are for transport tcp (a DTU)')
  } else {
    if (c.host === undefined || c.port === undefined) problems.push('transport tcp needs host and port')
    for (const k of ['path', 'baudRate', 'parity', 'dataBits', 'stopBits'] as const)
      if (c[k] !== undefined) problems.push(`${k} is only used by transport serial`)
  }
  if (device.opcua !== undefined) problems.push('the opcua: section is for driver opcua only')
  if (JSON.stringify(device.connection) !== JSON.stringify(DEFAULT_CONNECTION))
    problems.push('the connection: section is for driver modbus; a CJ/T 188 meter is reached through cjt188:')
  if (problems.length > 0) throw fail(problems)
  return c
}

class Cjt188Driver implements Driver {
  readonly kind = 'cjt188'
  readonly endpoint: string
  private readonly bus: Cjt188Bus
  private readonly address: Uint8Array
  private readonly meterType: number
  private attached = false
  private ser = 0
  private readonly counts: WireCounts = emptyWireCounts()

  constructor(
    private readonly device: EdgeDeviceConfig,
    private readonly conn: Cjt188Connection,
    readonly profile: Cjt188Profile,
  ) {
    this.meterType = conn.meterType ?? profile.meterType
    if (!profile.meterTypes.includes(this.meterType)) {
      throw new PlantWattError(
        'EDGE_ERR_DRIVER_CONFIG',
        `device ${device.device}: meter type ${hex(this.meterType)} does not fit profile ${profile.name} (types ${profile.meterTypes.map(hex).join(', ')})`,
      )
    }
    this.address = addressToWire(conn.address)
    this.endpoint = cjt188EndpointOf(conn, this.meterType)
    this.bus = busFor(cjt188Location(conn))
  }

  wireCounts(): WireCounts {
    return { ...this.counts }
  }

  /** The quantities a good reply gives values for. */
  quantities(): string[] {
    const status = STATUS_QUANTITIES.filter((q) => q !== 'valve_state' || this.conn.valve === 'report')
    return [...this.profile.layout.fields.map((f) => quantityOf(f, this.conn.heatQuantity)), ...status]
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.close()
    await this.bus.acquire(signal, this.conn.timeoutMs)
    this.attached = true
  }

  async read(signal: AbortSignal): Promise<ReadResult> {
    if (!this.attached || !this.bus.isOpen) throw new PlantWattError('EDGE_ERR_NOT_CONNECTED', `${this.endpoint}: not connected`)
    return this.bus.exclusive(() => this.poll(signal))
  }

  async close(): Promise<void> {
    if (!this.attached) return
    this.attached = false
    this.bus.release()
  }

  /** One 901F request, retried on silence or a garbled reply; the last failure decides. */
  private async poll(signal: AbortSignal): Promise<ReadResult> {
    let failure: { code: string; message: string } = { code: 'EDGE_ERR_TIMEOUT', message: 'no attempt' }
    for (let attempt = 0; attempt <= this.device.retries; attempt++) {
      if (attempt > 0 && this.device.retryBackoffMs > 0) await sleep(this.device.retryBackoffMs * 2 ** (attempt - 1), undefined, { signal })
      this.ser = (this.ser + 1) & 0xff
      const request = readDataRequest(this.meterType, this.address, this.ser, this.conn.diOrder, this.conn.preambleBytes)
      let t: Transaction
      try {
        if (!this.bus.isOpen) throw new PlantWattError('EDGE_ERR_CONNECTION', 'link closed')
        t = await this.bus.transact(request, this.conn.timeoutMs, signal)
      } catch (cause) {
        signal.throwIfAborted()
        await this.close()
        throw new PlantWattError('EDGE_ERR_CONNECTION', `${this.endpoint}: connection lost: ${(cause as Error).message}`, { cause })
      }
      this.counts.requests++
      if (t.kind === 'frame') {
        this.counts.replies++
        if (t.resynced) this.counts.resynced++
        const check = this.checkReply(t.frame)
        if (check.ok) return this.decode(t.frame)
        failure = check
      } else if (t.kind === 'bad') {
        failure = t
      } else if (t.received > 0) {
        failure = { code: 'EDGE_ERR_FRAME', message: `truncated reply: ${t.received} of ${t.expected ?? '≥ 11'} byte(s) within ${this.conn.timeoutMs} ms` }
      } else {
        failure = { code: 'EDGE_ERR_TIMEOUT', message: `no reply within ${this.conn.timeoutMs} ms` }
      }
      countFailure(this.counts, failure.code, t.kind === 'timeout' && t.received > 0)
    }
    if (failure.code === 'EDGE_ERR_TIMEOUT') {
      // Silence says nothing about the values: the poll fails and the next one connects afresh
      // (on a shared bus that only drops this meter's hold on the line).
      await this.close()
      throw new PlantWattError('EDGE_ERR_TIMEOUT', `${this.endpoint}: ${failure.message}`)
    }
    return this.allBad(failure)
  }

  /** A reply is taken only from this meter, for this request: type, address, control, DI, SER, length. */
  private checkReply(f: Cjt188Frame): FrameCheck {
    const fromAddress = addressToText(f.address)
    if (fromAddress !== this.conn.address.toUpperCase() || f.meterType !== this.meterType) {
      return {
        ok: false,
        code: 'EDGE_ERR_ADDRESS',
        message: `reply from meter ${hex(f.meterType)}:${fromAddress}, expected ${hex(this.meterType)}:${this.conn.address.toUpperCase()}`,
      }
    }
    if ((f.control & 0x3f) !== CONTROL_READ_DATA || (f.control & CONTROL_REPLY) === 0)
      return { ok: false, code: 'EDGE_ERR_FRAME', message: `control code ${hex(f.control)} is not a reply to read data` }
    if (f.control & CONTROL_ABNORMAL)
      return {
        ok: false,
        code: 'EDGE_ERR_METER_EXCEPTION',
        message: `the meter reports an abnormal reply (C=${hex(f.control)}, data ${Buffer.from(f.data).toString('hex')})`,
      }
    const [d0, d1] = encodeDi(DI_METER_DATA, this.conn.diOrder)
    if (f.data[0] !== d0 || f.data[1] !== d1)
      return { ok: false, code: 'EDGE_ERR_FRAME', message: `reply for data identifier ${hex(f.data[0] ?? 0)}${hex(f.data[1] ?? 0)}, expected 901F` }
    // serCheck echo: SER tells a late reply (to a request that timed out) from this one's.
    if (this.conn.serCheck === 'echo' && f.data[2] !== this.ser)
      return {
        ok: false,
        code: 'EDGE_ERR_FRAME',
        message: `reply to request ${f.data[2]}, expected ${this.ser} (a late reply, or a meter that answers with a fixed SER: serCheck ignore)`,
      }
    const want = DATA_HEAD + this.profile.layout.length
    if (f.data.length < want)
      return { ok: false, code: 'EDGE_ERR_FRAME', message: `reply data of ${f.data.length} byte(s), the ${this.profile.name} layout needs ${want}` }
    return { ok: true }
  }

  private decode(f: Cjt188Frame): ReadResult {
    const r = decodeReading(this.profile.layout, f.data.subarray(DATA_HEAD), this.conn.heatQuantity, this.endpoint)
    for (const e of r.errors) countFailure(this.counts, e.code)
    // The status is what the meter says of itself: published even when its bits make the measurements bad.
    const st = statusReading(r.status, this.conn.valve, this.endpoint)
    if (r.status & this.conn.badStatusMask) {
      const bad = this.allBad(
        {
          code: 'EDGE_ERR_METER_STATUS',
          message: `status ${r.status.toString(16).padStart(4, '0')} has bits of badStatusMask ${this.conn.badStatusMask.toString(16).padStart(4, '0')}`,
        },
        this.profile.layout.fields.map((fl) => quantityOf(fl, this.conn.heatQuantity)),
      )
      return { ...bad, values: st.values, quality: { ...bad.quality, ...st.quality }, errors: [...bad.errors, ...st.errors] }
    }
    return { ts: Date.now(), values: { ...r.values, ...st.values }, quality: { ...r.quality, ...st.quality }, errors: [...r.errors, ...st.errors] }
  }

  private allBad(failure: { code: string; message: string }, quantities = this.quantities()): ReadResult {
    const quality: Record<string, Quality> = {}
    const errors: PointError[] = []
    for (const q of quantities) {
      quality[q] = 'bad'
      errors.push({ point: q, code: failure.code, message: `${this.endpoint}: ${failure.message}` })
    }
    return { ts: Date.now(), values: {}, quality, errors }
  }
}

/**
 * A CJ/T 188 driver for one meter. Validates (EDGE_ERR_DRIVER_CONFIG) and does no I/O until
 * `connect`. A garbled, truncated or foreign reply marks every value of the meter bad with its code;
 * a BCD digit out of range or an unknown unit marks that value bad; silence fails the poll with
 * EDGE_ERR_TIMEOUT; a lost link with EDGE_ERR_CONNECTION.
 */
export function createCjt188Driver(device: EdgeDeviceConfig, profile: Cjt188Profile): WireCountingDriver & { quantities(): string[] } {
  const conn = checkCjt188Device(device)
  return new Cjt188Driver(device, conn, profile)
}
