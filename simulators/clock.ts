import { PlantWattError } from '../core/errors.ts'

/** Simulated time: epoch ms that runs `speed` times faster than the real clock from `startMs`. */
export interface SimClock {
  (): number
  readonly speed: number
}

export interface SimClockOptions {
  /** Simulated seconds per real second. Default 1 (real time). */
  speed?: number
  /** Simulated time at creation, epoch ms. Default: the real time. */
  startMs?: number
  /** The real clock it runs on. Default Date.now (inject one in tests). */
  realNow?: () => number
}

export function createSimClock(options: SimClockOptions = {}): SimClock {
  const speed = options.speed ?? 1
  if (!(Number.isFinite(speed) && speed > 0)) throw new PlantWattError('SIM_ERR_CONFIG', `clock speed must be a positive number, got ${speed}`)
  const realNow = options.realNow ?? Date.now
  const realStart = realNow()
  const simStart = options.startMs ?? realStart
  const clock = (() => simStart + (realNow() - realStart) * speed) as SimClock
  Object.defineProperty(clock, 'speed', { value: speed, enumerable: true })
  return clock
}
