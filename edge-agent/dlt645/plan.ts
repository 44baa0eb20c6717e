import { cjt188Location } from '../cjt188/driver.ts'
import { hex } from '../cjt188/frame.ts'
import { loadCjt188Profile } from '../cjt188/profiles.ts'
import type { Cjt188Connection } from '../cjt188/schema.ts'
import type { EdgeDeviceConfig } from '../config.ts'
import { physicalLineKey } from '../field-line.ts'
import type { LineLocation } from '../shared-link.ts'
import { dlt645BusLocation } from './bus.ts'
import { lineTimeMs } from './codec.ts'
import { loadDlt645Profile, planDlt645Requests } from './profile.ts'
import type { Dlt645Connection } from './schema.ts'

/** DL/T 645-2007 §5.2 (timing): a meter starts its reply 20 ms to 500 ms after the request. */
export const MIN_TURNAROUND_MS = 20
/** The baud rate assumed behind a DTU, whose serial side the agent cannot see. */
const DTU_BAUD = 2400

/** One request on a bus: which meter, which identifier, and what it costs on the line. */
export interface Dlt645ScheduledRequest {
  device: string
  /** A CJ/T 188 meter on the same line takes its turn too (one 901F read per poll). */
  protocol: 'dlt645' | 'cjt188'
  /** 645: the 12 digits; 188: `T:address` (meter type, 14 hex digits). */
  address: string
  di: string
  points: string[]
  /** Request bytes with the FE preamble. */
  requestBytes: number
  /** Reply bytes, at least (the mapped values; a meter may send more, and FE bytes in front). */
  replyBytes: number
}

/** What one poll of every meter on a bus takes, in turn, one request at a time. */
export interface Dlt645BusSchedule {
  bus: string
  baudRate: number
  /** false: a DTU, whose serial side is assumed to run at 2400 baud. */
  baudKnown: boolean
  requests: Dlt645ScheduledRequest[]
  bytesPerPoll: number
  /** Line time of the bytes alone, ms (11 bits per byte: start, 8 data, parity, stop). */
  lineMsPerPoll: number
  /** Line time plus the shortest reply delay a meter may take per request, ms: the least a poll of the bus takes. */
  minBusMsPerPoll: number
  /** The shortest poll interval of the devices on the bus, ms. */
  pollIntervalMs: number
}

/** The identifiers a device reads on each poll, with the points each serves (from its profile). */
export function dlt645Identifiers(device: EdgeDeviceConfig): { di: string; points: string[] }[] {
  return planDlt645Requests(loadDlt645Profile(device.profile)).map((r) => ({ di: r.di, points: r.points.map((p) => p.quantity) }))
}

function requestsOf(device: EdgeDeviceConfig, c: Dlt645Connection): Dlt645ScheduledRequest[] {
  return planDlt645Requests(loadDlt645Profile(device.profile)).map((r) => {
    const valueBytes = Math.max(...r.points.map((p) => p.offset + p.bytes))
    return {
      device: device.device,
      protocol: 'dlt645' as const,
      address: c.address,
      di: r.di,
      points: r.points.map((p) => p.quantity),
      requestBytes: c.preambleBytes + 12 + r.di.length / 2,
      replyBytes: 12 + r.di.length / 2 + valueBytes,
    }
  })
}

/** CJ/T 188: one read of 901F per poll — `FE… 68 T A0..A6 01 03 DI DI SER CS 16`, its reply L = 3 + the layout. */
function cjt188RequestsOf(device: EdgeDeviceConfig, c: Cjt188Connection): Dlt645ScheduledRequest[] {
  const profile = loadCjt188Profile(device.profile)
  return [
    {
      device: device.device,
      protocol: 'cjt188',
      address: `${hex(c.meterType ?? profile.meterType)}:${c.address.toUpperCase()}`,
      di: '901F',
      points: profile.layout.fields.map((f) => f.quantity),
      requestBytes: c.preambleBytes + 13 + 3,
      replyBytes: 13 + 3 + profile.layout.length,
    },
  ]
}

/** A device's requests on its line, or undefined when it is no DL/T 645 / CJ/T 188 meter or its profile cannot be loaded. */
function lineRequests(d: EdgeDeviceConfig): { loc: LineLocation; requests: Dlt645ScheduledRequest[] } | undefined {
  try {
    if (d.driver === 'dlt645' && d.dlt645) return { loc: dlt645BusLocation(d.dlt645), requests: requestsOf(d, d.dlt645) }
    if (d.driver === 'cjt188' && d.cjt188) return { loc: cjt188Location(d.cjt188), requests: cjt188RequestsOf(d, d.cjt188) }
  } catch {
    // the device's own plan line reports its profile error
  }
  return undefined
}

/**
 * The schedule of every line with DL/T 645 or CJ/T 188 meters in `devices` (one line per serial port
 * or DTU endpoint, both protocols on it together): the requests of one poll of all its meters in
 * turn, their bytes, and the line time at the line's baud rate — what limits a real 2400-baud line.
 * Devices whose profile cannot be loaded are left out (their plan line reports the error).
 */
export function planDlt645Buses(devices: readonly EdgeDeviceConfig[]): Dlt645BusSchedule[] {
  const buses = new Map<string, Dlt645BusSchedule>()
  for (const d of devices) {
    const found = lineRequests(d)
    if (!found) continue
    const { loc, requests } = found
    const key = physicalLineKey(loc)
    const s = buses.get(key) ?? {
      bus: key,
      baudRate: loc.transport === 'serial' ? loc.baudRate : DTU_BAUD,
      baudKnown: loc.transport === 'serial',
      requests: [],
      bytesPerPoll: 0,
      lineMsPerPoll: 0,
      minBusMsPerPoll: 0,
      pollIntervalMs: d.pollIntervalMs,
    }
    buses.set(key, s)
    s.requests.push(...requests)
    s.pollIntervalMs = Math.min(s.pollIntervalMs, d.pollIntervalMs)
  }
  for (const s of buses.values()) {
    s.bytesPerPoll = s.requests.reduce((n, r) => n + r.requestBytes + r.replyBytes, 0)
    s.lineMsPerPoll = Math.round(lineTimeMs(s.bytesPerPoll, s.baudRate) * 10) / 10
    s.minBusMsPerPoll = Math.round((s.lineMsPerPoll + s.requests.length * MIN_TURNAROUND_MS) * 10) / 10
  }
  return [...buses.values()]
}

/** The schedule as text lines for `plantwatt edge plan`. */
export function formatDlt645Schedule(s: Dlt645BusSchedule): string[] {
  const meters = new Set(s.requests.map((r) => r.address)).size
  const over = s.minBusMsPerPoll > s.pollIntervalMs ? `  — longer than the poll interval of ${s.pollIntervalMs} ms: polls will run late` : ''
  const lines = [
    `bus ${s.bus}: ${meters} meter(s), ${s.requests.length} request(s) per poll, one at a time, ${s.bytesPerPoll} bytes ≈ ${s.lineMsPerPoll} ms on the line at ${s.baudRate} baud${s.baudKnown ? '' : ' (assumed behind the DTU)'}, ≥ ${s.minBusMsPerPoll} ms with ${MIN_TURNAROUND_MS} ms meter reply delay each${over}`,
  ]
  s.requests.forEach((r, i) => {
    const ms = lineTimeMs(r.requestBytes + r.replyBytes, s.baudRate).toFixed(1)
    lines.push(
      `  ${String(i + 1).padStart(3)}. ${r.device} meter ${r.address} ${r.di.padEnd(8)} ${String(r.requestBytes).padStart(2)}+${String(r.replyBytes).padEnd(2)} B ${ms.padStart(6)} ms  ${r.points.join(', ')}`,
    )
  })
  return lines
}
