import type { Driver } from './driver.ts'

/**
 * What a field-bus driver (DL/T 645, CJ/T 188) has seen on the wire since it was created: every
 * request attempt (retries included) and every bad reply by kind. A device's row of `status()`
 * carries them as `wire` (and so `/health` and the Prometheus metrics,
 * `plantwatt_edge_devices_wire{device, key}`).
 */
export interface WireCounts {
  /** Requests sent, retries included. */
  requests: number
  /** Replies received as whole frames with a good checksum (whether or not they could serve the request). */
  replies: number
  /** Requests with no byte of reply within the timeout. */
  timeouts: number
  /** Replies with a wrong checksum. */
  checksum: number
  /** Replies cut short: some bytes, no whole frame within the timeout. */
  truncated: number
  /** Whole frames that cannot answer the request: wrong end byte or control code, another identifier, another request's SER, shorter values than the profile needs. */
  malformed: number
  /** Replies carrying another meter's address (a meter answering for another, a late reply of another meter). */
  wrongAddress: number
  /** Values with a BCD digit above 9 (FF "no value" included). */
  bcd: number
  /** Error replies (645: error word; 188: abnormal reply, C with D6 set). */
  exceptions: number
  /** CJ/T 188 values whose unit code is not of their kind (0 for DL/T 645). */
  unit: number
  /** Replies found after bytes that were neither preamble nor frame (noise on the line, resynchronised). */
  resynced: number
}

export const emptyWireCounts = (): WireCounts => ({
  requests: 0,
  replies: 0,
  timeouts: 0,
  checksum: 0,
  truncated: 0,
  malformed: 0,
  wrongAddress: 0,
  bcd: 0,
  exceptions: 0,
  unit: 0,
  resynced: 0,
})

const BY_CODE: Readonly<Record<string, keyof WireCounts>> = {
  EDGE_ERR_TIMEOUT: 'timeouts',
  EDGE_ERR_CHECKSUM: 'checksum',
  EDGE_ERR_FRAME: 'malformed',
  EDGE_ERR_ADDRESS: 'wrongAddress',
  EDGE_ERR_METER_EXCEPTION: 'exceptions',
  EDGE_ERR_BCD: 'bcd',
  EDGE_ERR_UNIT: 'unit',
}

/** Counts one failure by its error code (EDGE_ERR_FRAME as malformed unless `truncated`). */
export function countFailure(counts: WireCounts, code: string, truncated = false): void {
  const key = truncated ? 'truncated' : BY_CODE[code]
  if (key) counts[key]++
}

/** A driver that counts what it sees on the wire. */
export interface WireCountingDriver extends Driver {
  wireCounts(): WireCounts
}

/** The driver's wire counts (a copy), or undefined for drivers that keep none. */
export function wireCountsOf(driver: Driver): WireCounts | undefined {
  const d = driver as Partial<WireCountingDriver>
  return typeof d.wireCounts === 'function' ? d.wireCounts() : undefined
}
