import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { silentLogger } from '../core/logger.ts'
import { startBroker } from '../broker/index.ts'
import { runLoad } from './load.ts'

export interface FloodResult {
  publishers: number
  seconds: number
  /** QoS 0 publishes the load sent (each waits for its socket to take it). */
  sent: number
  /** Publishes the broker accepted (validated and routed). */
  accepted: number
  /** Of this process (the broker alone), MiB. */
  rssBeforeMiB: number
  rssPeakMiB: number
  heapBeforeMiB: number
  heapPeakMiB: number
  /** Whether the subscriber that stopped reading was cut by drainTimeoutMs within the flood. */
  stalledSubscriberDisconnected: boolean
}

const MiB = 1024 * 1024

/**
 * A full GC before the "before" figures, so they are the live heap, not the garbage the bench's
 * earlier parts left behind (the bench runs without --expose-gc; V8 exposes gc() to a new context
 * once the flag is set).
 */
function collectGarbage(): void {
  if (global.gc) {
    global.gc()
    return
  }
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

/**
 * QoS 0 flood from `publishers` connections towards one subscriber that stops reading. Aedes reads a
 * publisher's next packets only once the current ones are delivered; a delivery waits for the
 * subscriber's socket to drain, for at most drainTimeoutMs, after which that subscriber is cut and
 * the flood flows again (to nobody). So memory is bounded by the socket buffers, not by the flood.
 */
export async function qos0Flood(seconds = 6, publishers = 10, drainTimeoutMs = 3000): Promise<FloodResult> {
  const broker = await startBroker({ port: 0, drainTimeoutMs, publishRate: { messagesPerS: 0 } }, { logger: silentLogger() })
  try {
    collectGarbage()
    const rssBefore = process.memoryUsage().rss
    let rssPeak = rssBefore
    const heapBefore = process.memoryUsage().heapUsed
    let heapPeak = heapBefore
    let minClients = Number.POSITIVE_INFINITY
    let started = false
    const timer = setInterval(() => {
      const m = process.memoryUsage()
      rssPeak = Math.max(rssPeak, m.rss)
      heapPeak = Math.max(heapPeak, m.heapUsed)
      if (started) minClients = Math.min(minClients, broker.stats().clients)
    }, 50)
    const r = await runLoad({ mode: 'flood', url: broker.url, publishers, seconds, payloadBytes: 200 }, () => (started = true))
    clearInterval(timer)
    return {
      publishers,
      seconds: Number(r.seconds.toFixed(1)),
      sent: r.sent,
      accepted: broker.stats().accepted,
      rssBeforeMiB: Number((rssBefore / MiB).toFixed(1)),
      rssPeakMiB: Number((rssPeak / MiB).toFixed(1)),
      heapBeforeMiB: Number((heapBefore / MiB).toFixed(1)),
      heapPeakMiB: Number((heapPeak / MiB).toFixed(1)),
      stalledSubscriberDisconnected: minClients <= publishers,
    }
  } finally {
    await broker.close()
  }
}
