import { mixSeed, mulberry32, valueNoise } from '../prng.ts'
import { HOUR_MS, MINUTE_MS } from '../../core/duration.ts'

/** Machine states; the index is the canonical `machine_state` code (core/quantities.ts). */
export const MACHINE_STATES = ['stopped', 'idle', 'running', 'fault'] as const
export type MachineStateName = (typeof MACHINE_STATES)[number]
export type MachineStateCode = 0 | 1 | 2 | 3

export type MachineKind = 'cnc' | 'press' | 'furnace' | 'mill'

/**
 * Seconds per part while running. A press strokes every few seconds, an induction furnace heats a
 * billet in tens of seconds, a CNC turning or milling cycle takes minutes.
 */
export const CYCLE_SECONDS: Readonly<Record<MachineKind, number>> = { cnc: 150, press: 8, furnace: 40, mill: 240 }

/** Power per state, as a fraction of the running rating (servo/hydraulic standby, spindle off, …). */
export const STATE_POWER_FRACTION: Readonly<Record<MachineStateName, number>> = { stopped: 0.03, idle: 0.22, running: 0.85, fault: 0.08 }

export interface MachineSnapshot {
  /** Clock time of the update, epoch ms. */
  ts: number
  state: MachineStateCode
  stateName: MachineStateName
  powerKw: number
  /** Energy counter, kWh: the trapezoid integral of powerKw between updates. */
  energyKwh: number
  /** Parts made (output_count): whole cycles completed while running. */
  partCount: number
  /** Product being made (the line's). */
  product: string
}

export interface MachineModelOptions {
  kind: MachineKind
  /** Power while running, kW. */
  ratedKw: number
  seed: number
  product: string
  /** True while the line is scheduled to produce (in a shift); otherwise the machine is stopped. */
  scheduled: (t: number) => boolean
  /** Energy counter at the first update, kWh (continuing a stored reading). Default 0. */
  startEnergyKwh?: number
  /** Part counter at the first update. Default 0. */
  startPartCount?: number
}

export interface MachineModel {
  update(t: number): MachineSnapshot
}

const BLOCK_MS = 5 * MINUTE_MS

/**
 * A machine whose state is drawn per 5-minute block (seeded: the same seed gives the same states):
 * while scheduled, running 88 %, idle 11 %, fault 1 %; stopped otherwise. Power follows the state
 * with a little noise; parts accrue only while running, one per cycle, so energy per part follows
 * from state and output.
 */
export function createMachineModel(options: MachineModelOptions): MachineModel {
  const { kind, ratedKw, seed, product, scheduled } = options
  const cycleMs = CYCLE_SECONDS[kind] * 1000
  const stateAt = (t: number): MachineStateCode => {
    if (!scheduled(t)) return 0
    const r = mulberry32(mixSeed(seed, Math.floor(t / BLOCK_MS)))()
    return r < 0.01 ? 3 : r < 0.12 ? 1 : 2
  }
  let energyKwh = Math.max(0, options.startEnergyKwh ?? 0)
  const startParts = Math.max(0, Math.ceil(options.startPartCount ?? 0))
  let runMs = 0
  let last: { t: number; powerKw: number; state: MachineStateCode } | undefined
  return {
    update(t) {
      const state = stateAt(t)
      const name = MACHINE_STATES[state]
      const powerKw = ratedKw * STATE_POWER_FRACTION[name] * (1 + 0.05 * valueNoise(seed, 201, t, 10_000))
      if (last && t > last.t) {
        energyKwh += ((last.powerKw + powerKw) / 2) * ((t - last.t) / HOUR_MS)
        // Time counts as running when the interval started running (state holds within a block).
        if (last.state === 2) runMs += t - last.t
      }
      if (!last || t >= last.t) last = { t, powerKw, state }
      return { ts: t, state, stateName: name, powerKw, energyKwh, partCount: startParts + Math.floor(runMs / cycleMs), product }
    },
  }
}
