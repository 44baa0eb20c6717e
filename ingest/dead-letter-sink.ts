import Type from 'typebox'
import { Compile } from 'typebox/compile'
import type { DeadLetter, DeadLetterLog } from '../core/dead-letter.ts'
import { describeError, isPlantWattError, PlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'

const DeadLetterSchema = Type.Object(
  {
    ts: Type.Integer({ minimum: 0 }),
    reason: Type.String({ minLength: 1, maxLength: 200 }),
    message: Type.String(),
    topic: Type.String(),
    payload: Type.String(),
    payloadBytes: Type.Integer({ minimum: 0 }),
    source: Type.String({ maxLength: 50 }),
  },
  { additionalProperties: false },
)
const checkDeadLetter = Compile(DeadLetterSchema)

/** Bytes of a payload copied into its dead letter. */
export const DEAD_LETTER_COPY_BYTES = 64 * 1024
/** One warning per reason per interval: a flood of poison must not flood the log. */
export const DEAD_LETTER_WARN_INTERVAL_MS = 10_000

/**
 * Where ingest sets aside what it does not store: the broker's dead letters (envelopes on
 * DEAD_LETTER_TOPIC) and its own (coded errors). Counts per reason and warns, throttled.
 */
export class DeadLetterSink {
  private readonly counts: Record<string, number> = {}
  private readonly lastWarned = new Map<string, number>()

  constructor(
    readonly log: DeadLetterLog,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Dead letters recorded, per reason. */
  stats(): Record<string, number> {
    return { ...this.counts }
  }

  record(entry: DeadLetter): void {
    this.counts[entry.reason] = (this.counts[entry.reason] ?? 0) + 1
    this.log.add(entry)
    const now = this.now()
    if (now - (this.lastWarned.get(entry.reason) ?? 0) >= DEAD_LETTER_WARN_INTERVAL_MS) {
      this.lastWarned.set(entry.reason, now)
      this.logger.warn(
        { reason: entry.reason, topic: entry.topic.slice(0, 200), source: entry.source, total: this.counts[entry.reason] },
        `dead letter: ${entry.message}`,
      )
    }
  }

  /** Records a message ingest refused: the error's code (INGEST_ERR_INTERNAL when it has none) and a copy of the payload. */
  recordError(err: unknown, topic: string, payload: Buffer): void {
    const coded = isPlantWattError(err) ? err : new PlantWattError('INGEST_ERR_INTERNAL', describeError(err), { cause: err })
    this.record({
      ts: this.now(),
      reason: coded.code,
      message: coded.message,
      topic,
      payload: payload.subarray(0, DEAD_LETTER_COPY_BYTES).toString('utf8'),
      payloadBytes: payload.length,
      source: 'ingest',
    })
  }

  /** Records a message of DEAD_LETTER_TOPIC: the broker's envelope as it is, anything else as INGEST_ERR_DEAD_LETTER_ENVELOPE. */
  recordEnvelope(payload: Buffer): void {
    let envelope: unknown
    try {
      envelope = JSON.parse(payload.toString('utf8'))
    } catch {
      envelope = undefined
    }
    if (checkDeadLetter.Check(envelope)) this.record(envelope)
    else
      this.recordError(
        new PlantWattError('INGEST_ERR_DEAD_LETTER_ENVELOPE', `message on ${DEAD_LETTER_TOPIC} is not a dead-letter envelope`),
        DEAD_LETTER_TOPIC,
        payload,
      )
  }
}
