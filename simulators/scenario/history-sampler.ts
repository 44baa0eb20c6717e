import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../../storage/store.ts'
import type { FaultBook } from '../faults.ts'
import type { HistoryDevice } from './history-devices.ts'

/**
 * Turns the devices' state at a sample instant into telemetry points, as the edge agent would have
 * published them: offline devices send nothing, skewed clocks shift the timestamp, faults change
 * what is shown; `seq` counts each device's samples.
 */
export class HistorySampler {
  readonly #devices: readonly HistoryDevice[]
  readonly #faults: Pick<FaultBook, 'online' | 'clockOffsetMs'>
  readonly #samples: Record<string, number>

  constructor(devices: readonly HistoryDevice[], faults: Pick<FaultBook, 'online' | 'clockOffsetMs'>) {
    this.#devices = devices
    this.#faults = faults
    this.#samples = Object.fromEntries(devices.map((d) => [d.key, 0]))
  }

  /** The points of every online device at t (devices updated to t). */
  sample(t: number): TelemetryPoint[] {
    const points: TelemetryPoint[] = []
    for (const d of this.#devices) {
      if (!this.#faults.online(d.key, t)) continue
      // The presenter always sees every counter (a reset offsets all of them alike); the written fields are picked after.
      const values = d.values()
      const shown = d.present({ ...values, ...d.counterValues() }, t)
      const written: Record<string, number> = {}
      for (const k of Object.keys(values)) written[k] = shown[k] as number
      d.seq++
      this.#samples[d.key]!++
      points.push({ measurement: TELEMETRY_MEASUREMENT, tags: d.tags, fields: { ...written, seq: d.seq }, ts: t + this.#faults.clockOffsetMs(d.key, t) })
    }
    return points
  }

  /** Samples taken per device key. */
  samples(): Record<string, number> {
    return this.#samples
  }
}
