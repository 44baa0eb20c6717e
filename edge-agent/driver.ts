import type { Quality } from '../core/payload.ts'

/** A failure that affects some points of a device but not the others. */
export interface PointError {
  /** Canonical quantity (or point name) affected. */
  point: string
  /** e.g. EDGE_ERR_MODBUS_EXCEPTION, EDGE_ERR_DECODE, EDGE_ERR_TIMEOUT */
  code: string
  message: string
}

/** The result of one poll: values in canonical quantities, plus what could not be read. */
export interface ReadResult {
  /** Epoch ms when the read completed. */
  ts: number
  values: Record<string, number>
  /** Quality per quantity when not good (bad values are never published as good numbers). */
  quality: Record<string, Quality>
  errors: PointError[]
}

/**
 * A device driver. Following Telegraf's contract: the factory validates its config and does no
 * I/O; `connect` does the I/O and may be called again after a failure (reconnect); `read` polls.
 * Subscription drivers (OPC UA) implement `subscribe` instead of being polled.
 */
export interface Driver {
  /** Registry key, e.g. 'modbus'. */
  readonly kind: string
  /** Human-readable endpoint for error messages, e.g. 'tcp://10.0.0.5:502 unit 1'. */
  readonly endpoint: string
  connect(signal: AbortSignal): Promise<void>
  read(signal: AbortSignal): Promise<ReadResult>
  /** Push-style drivers only. Returns an unsubscribe function. */
  subscribe?(onResult: (result: ReadResult) => void): () => void
  close(): Promise<void>
}
