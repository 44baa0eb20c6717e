/**
 * An uploader in its own process (for the kill -9 test): a deterministic provider of 15-minute
 * records and the real outbox, queue, sender and transport, each request 10 ms apart so that the
 * test can kill it mid-queue. Env: PW_OUTBOX, PW_PROVINCE_URL, PW_KEY_PEM, PW_NOW (epoch ms),
 * PW_DAYS. Prints one JSON line when started.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { TimeRange } from '../analytics/index.ts'
import type { PeriodKind } from '../province/message.ts'
import { privateKeyOf } from '../province/signing.ts'
import type { Indicator, IndicatorProvider } from '../upload/indicators.ts'
import { Outbox } from '../upload/outbox.ts'
import { Sender } from '../upload/sender.ts'
import { Transport } from '../upload/transport.ts'
import { IndicatorQueue } from '../upload/uploader.ts'

const provider: IndicatorProvider = {
  name: 'test provider',
  indicators: async (kind: PeriodKind, range: TimeRange): Promise<Indicator[]> => {
    if (kind !== '15m') return []
    const out: Indicator[] = []
    for (let t = range.start; t < range.end; t += 900_000) {
      out.push({
        indicator: 'energy',
        subject: 'boundary',
        carrier: 'electricity',
        period: '15m',
        start: t,
        end: t + 900_000,
        value: (t / 900_000) % 7,
        unit: 'kWh',
        basis: 'test',
      })
    }
    return out
  },
}

const env = (name: string): string => {
  const v = process.env[name]
  if (v === undefined) throw new Error(`${name} is not set`)
  return v
}
const now = (): number => Number(env('PW_NOW'))
const outbox = new Outbox(env('PW_OUTBOX'))
const transport = new Transport({ url: env('PW_PROVINCE_URL'), enterprise: 'acme', key: privateKeyOf(env('PW_KEY_PEM')), timeoutMs: 5000 })
const slow = {
  post: async (path: string, body: Buffer) => {
    await sleep(10)
    return transport.post(path, body)
  },
}
const sender = new Sender(outbox, slow, { enterprise: 'acme', batchRecords: 4, initialBackoffMs: 50, maxBackoffMs: 200 })
const queue = new IndicatorQueue(outbox, provider, { timezone: 'Asia/Shanghai', settleMs: 0, backfillDays: Number(env('PW_DAYS')), recheckDays: 0 })
const result = await queue.compute(now())
process.stdout.write(`${JSON.stringify({ started: true, ...result, counts: outbox.counts() })}\n`)
for (;;) {
  await sender.drain()
  await sleep(20)
}
