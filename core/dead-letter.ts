/** A message that was not stored, kept with why, where it came from and a copy of its payload. */
export interface DeadLetter {
  /** Epoch ms when it was set aside. */
  ts: number
  /** The coded reason, e.g. CORE_ERR_PAYLOAD_JSON. */
  reason: string
  message: string
  topic: string
  /** The payload as UTF-8 text (binary bytes replaced), cut to `maxPayloadCopyBytes`. */
  payload: string
  /** Size of the original payload in bytes. */
  payloadBytes: number
  /** Who set it aside: 'broker' or 'ingest'. */
  source: string
}

export interface DeadLetterQuery {
  reason?: string
  limit?: number
  /** Only entries at or after this epoch ms. */
  since?: number
}

/** Where dead letters go. Ingest writes; the API reads. */
export interface DeadLetterLog {
  add(entry: DeadLetter): void
  /** Newest first. */
  list(query?: DeadLetterQuery): DeadLetter[]
  /** Count of dead letters per reason since start. */
  counts(): Record<string, number>
  close(): Promise<void>
}
