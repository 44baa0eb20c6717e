import { SerialPort } from 'serialport'
import { PlantWattError } from '../../core/errors.ts'
import { handlePdu, type ModbusUnit } from './pdu.ts'
import { fixedRequestLength, frameGapMs, MAX_RTU_FRAME, rtuCrcOk, rtuFrame } from './rtu.ts'

// Own slave on `serialport` rather than modbus-serial's ServerSerial: that one paces replies by a
// timer and accepts frames with a bad CRC (NOTES.md), so it can neither be benchmarked against nor
// stand in for a real meter's CRC handling.

export interface ModbusRtuServerOptions {
  /** Serial device, e.g. /dev/ttyUSB0 or a pty. */
  path: string
  /** Default 9600. */
  baudRate?: number
  /** Default 'none'; Acrel meters often ship with 'even' (9600 8E1). */
  parity?: 'none' | 'even' | 'odd'
  /** Default 1. */
  stopBits?: 1 | 2
  /** Slaves on this line by address (1–247); several meters share one RS-485 bus. */
  units: ReadonlyMap<number, ModbusUnit>
}

export interface ModbusRtuServerStats {
  requests: number
  exceptions: number
  /** Frames dropped for a bad CRC or a bad length: a real slave stays silent on them. */
  badFrames: number
  /** Frames for an address no unit here answers (another slave's, or broadcast). */
  otherAddress: number
}

export interface ModbusRtuServer {
  readonly path: string
  stats(): ModbusRtuServerStats
  close(): Promise<void>
}

export async function startModbusRtuServer(options: ModbusRtuServerOptions): Promise<ModbusRtuServer> {
  const baudRate = options.baudRate ?? 9600
  const gapMs = frameGapMs(baudRate)
  const stats: ModbusRtuServerStats = { requests: 0, exceptions: 0, badFrames: 0, otherAddress: 0 }
  const port = new SerialPort({ path: options.path, baudRate, parity: options.parity ?? 'none', stopBits: options.stopBits ?? 1, dataBits: 8, autoOpen: false })
  await new Promise<void>((resolve, reject) => {
    port.open((err) =>
      err ? reject(new PlantWattError('SIM_ERR_LISTEN', `cannot open serial port ${options.path}: ${err.message}`, { cause: err })) : resolve(),
    )
  })
  port.on('error', () => {
    // A line error loses the frame in flight, as on a real bus; the next frame is read afresh.
  })

  let pending: Buffer = Buffer.alloc(0)
  let gapTimer: NodeJS.Timeout | undefined

  const answer = (frame: Buffer): void => {
    if (frame.length < 4 || frame.length > MAX_RTU_FRAME || !rtuCrcOk(frame)) {
      stats.badFrames++
      return
    }
    const address = frame[0] as number
    const unit = options.units.get(address)
    // Broadcast (0) reads get no answer (§2.1); another slave's address is not ours to answer.
    if (!unit || (unit.responding && !unit.responding())) {
      stats.otherAddress++
      return
    }
    stats.requests++
    const reply = handlePdu(unit, frame.subarray(1, frame.length - 2))
    if ((reply[0] as number) & 0x80) stats.exceptions++
    port.write(rtuFrame(address, reply))
  }

  const flush = (): void => {
    gapTimer = undefined
    const frame = pending
    pending = Buffer.alloc(0)
    if (frame.length > 0) answer(frame)
  }

  port.on('data', (chunk: Buffer) => {
    if (gapTimer) clearTimeout(gapTimer)
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk])
    const fixed = fixedRequestLength(pending)
    if (fixed !== undefined && pending.length === fixed && rtuCrcOk(pending)) {
      flush()
      return
    }
    if (pending.length > MAX_RTU_FRAME) {
      // Longer than any frame: noise on the line. Drop it and wait for the next silence.
      stats.badFrames++
      pending = Buffer.alloc(0)
    }
    gapTimer = setTimeout(flush, Math.max(1, gapMs))
  })

  let closing: Promise<void> | undefined
  return {
    path: options.path,
    stats: () => ({ ...stats }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (gapTimer) clearTimeout(gapTimer)
        if (!port.isOpen) return resolve()
        port.close(() => resolve())
      })
      return closing
    },
  }
}
