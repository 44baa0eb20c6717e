import { appendFileSync, writeFileSync } from 'node:fs'
import { Value } from 'typebox/value'
import { schemaProblems } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'
import { createOffsetFn, type MeterReading } from './load.ts'
import type { MeterHooks } from './modbus-meter.ts'
import { hashString, mixSeed, mulberry32 } from './prng.ts'
import { FaultSchema, instantMs, type FaultInput, type FaultKind, type FaultSpec } from './scenario/schema.ts'
import { DAY_MS, MINUTE_MS } from '../core/duration.ts'

export interface PresenterOptions {
  /**
   * The device's counters were resumed at this instant (epoch ms) from a reading that already shows
   * every counter_reset begun before it: those resets take offset 0 instead of restarting the
   * counter again. Default: none (a reset shows from the device's first presented value).
   */
  resumedAt?: number
}

/** What a device shows at t; `counters` gives its counter registers as they stand (resets applied, not garbage or stuck). */
export interface Presenter {
  (values: Readonly<Record<string, number>>, t: number): Record<string, number>
  counters(values: Readonly<Record<string, number>>, t: number): Record<string, number>
}

/** One injected fault as recorded in the ground truth. */
export interface FaultRecord {
  /** 1, 2, … in order of injection. */
  id: number
  /** enterprise/site/line/device */
  device: string
  kind: FaultKind
  /** Epoch ms. */
  start: number
  /** Epoch ms; null = never ends. */
  end: number | null
  /** The kind's parameters (deltaKw, kwPerDay, kw + night window, skewMs). */
  parameters: Record<string, number | string>
}

/** Load faults add real power (the physics changes); the rest change only what a device shows. */
export const LOAD_FAULT_KINDS: readonly FaultKind[] = ['step', 'drift', 'spike', 'standby']

export interface FaultBookOptions {
  timezone: string
  seed: number
  /** Devices faults may name (enterprise/site/line/device); others are SIM_ERR_FAULT. */
  devices: ReadonlySet<string>
  /**
   * Ground-truth JSONL file: emptied when the book is created (one file = one run), then one
   * FaultRecord per line, appended as each fault is injected.
   */
  groundTruthFile?: string
}

const groundTruthLine = (r: FaultRecord) => ({ ...r, startIso: new Date(r.start).toISOString(), endIso: r.end === null ? null : new Date(r.end).toISOString() })

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/**
 * The faults of a run. Device models ask it, at each instant, how much load to add and how to
 * present their values; injection at run time takes effect on the next tick.
 */
export class FaultBook {
  private readonly faults: FaultRecord[] = []
  private readonly offsetAt: (t: number) => number
  private readonly opts: FaultBookOptions

  constructor(options: FaultBookOptions) {
    this.opts = options
    this.offsetAt = createOffsetFn(options.timezone)
    if (options.groundTruthFile) {
      try {
        writeFileSync(options.groundTruthFile, '')
      } catch (cause) {
        throw new PlantWattError('SIM_ERR_FAULT', `cannot write ground-truth file ${options.groundTruthFile}: ${(cause as Error).message}`, { cause })
      }
    }
  }

  /** Records a fault (validated like a scenario entry) and appends it to the ground truth. */
  inject(spec: FaultInput): FaultRecord {
    const filled = Value.Default(FaultSchema, Value.Clone(spec)) as FaultSpec
    const problems = schemaProblems(FaultSchema, filled)
    if (!this.opts.devices.has(filled.device)) problems.push({ path: '/device', message: `no device ${filled.device}` })
    const start = instantMs(filled.start)
    const end = filled.end === undefined ? null : instantMs(filled.end)
    if (Number.isNaN(start)) problems.push({ path: '/start', message: 'not a date-time' })
    if (end !== null && !(end > start)) problems.push({ path: '/end', message: 'must be after start' })
    const needs: Partial<Record<FaultKind, keyof FaultSpec>> = { step: 'deltaKw', spike: 'deltaKw', drift: 'kwPerDay', standby: 'kw', clock_skew: 'skewMs' }
    const need = needs[filled.kind]
    if (need && filled[need] === undefined) problems.push({ path: `/${need}`, message: `required for ${filled.kind}` })
    if (problems.length > 0) {
      throw new PlantWattError('SIM_ERR_FAULT', `fault ${filled.kind} on ${filled.device}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, {
        details: problems,
      })
    }
    const parameters: Record<string, number | string> = {}
    if (need) parameters[need] = filled[need] as number
    if (filled.kind === 'standby') Object.assign(parameters, { nightStart: filled.nightStart, nightEnd: filled.nightEnd })
    const record: FaultRecord = Object.freeze({ id: this.faults.length + 1, device: filled.device, kind: filled.kind, start, end, parameters })
    this.faults.push(record)
    if (this.opts.groundTruthFile) {
      appendFileSync(this.opts.groundTruthFile, `${JSON.stringify(groundTruthLine(record))}\n`)
    }
    return record
  }

  /**
   * Ends an open fault at `at` (epoch ms), e.g. from the control endpoint, and rewrites the ground
   * truth with its end. SIM_ERR_FAULT_NOT_FOUND for an unknown id; SIM_ERR_FAULT_STATE when the
   * fault has already ended by `at` or has not started yet (it would never have acted).
   */
  end(id: number, at: number): FaultRecord {
    const i = this.faults.findIndex((f) => f.id === id)
    const f = this.faults[i]
    if (!f) throw new PlantWattError('SIM_ERR_FAULT_NOT_FOUND', `no fault ${id}`)
    if (f.end !== null && f.end <= at)
      throw new PlantWattError('SIM_ERR_FAULT_STATE', `fault ${id} (${f.kind} on ${f.device}) already ended at ${new Date(f.end).toISOString()}`)
    if (!(at > f.start))
      throw new PlantWattError('SIM_ERR_FAULT_STATE', `fault ${id} (${f.kind} on ${f.device}) has not started yet (starts ${new Date(f.start).toISOString()})`)
    const record: FaultRecord = Object.freeze({ ...f, end: at })
    this.faults[i] = record
    if (this.opts.groundTruthFile) writeFileSync(this.opts.groundTruthFile, this.faults.map((r) => `${JSON.stringify(groundTruthLine(r))}\n`).join(''))
    return record
  }

  list(): FaultRecord[] {
    return this.faults.slice()
  }

  private active(device: string, t: number): FaultRecord[] {
    return this.faults.filter((f) => f.device === device && t >= f.start && (f.end === null || t < f.end))
  }

  /** Load added to the device at t by step/drift/spike/standby faults, kW. */
  extraLoadKw(device: string, t: number): number {
    let kw = 0
    for (const f of this.active(device, t)) {
      const p = f.parameters
      if (f.kind === 'step' || f.kind === 'spike') kw += p.deltaKw as number
      else if (f.kind === 'drift') kw += ((p.kwPerDay as number) * (t - f.start)) / DAY_MS
      else if (f.kind === 'standby') {
        const local = ((((t + this.offsetAt(t)) % DAY_MS) + DAY_MS) % DAY_MS) / MINUTE_MS
        const from = minutesOf(p.nightStart as string)
        const to = minutesOf(p.nightEnd as string)
        const night = from <= to ? local >= from && local < to : local >= from || local < to
        if (night) kw += p.kw as number
      }
    }
    return kw
  }

  online(device: string, t: number): boolean {
    return !this.active(device, t).some((f) => f.kind === 'offline')
  }

  clockOffsetMs(device: string, t: number): number {
    return this.active(device, t).reduce((a, f) => a + (f.kind === 'clock_skew' ? (f.parameters.skewMs as number) : 0), 0)
  }

  /**
   * What a device shows, given its true values at t: a stuck device repeats the values of its first
   * update in the fault; a reset counter restarts from 0 at the fault (and stays restarted); garbage
   * is seeded junk over many decades. Stateful per device: make one presenter per device instance.
   */
  createPresenter(device: string, counters: readonly string[], options: PresenterOptions = {}): Presenter {
    let stuck: { id: number; values: Record<string, number> } | undefined
    const resets = new Map<number, Record<string, number>>()
    const deviceSeed = mixSeed(this.opts.seed, hashString(device))
    const resumedAt = options.resumedAt ?? Number.NEGATIVE_INFINITY
    const withResets = (values: Readonly<Record<string, number>>, t: number): Record<string, number> => {
      const out: Record<string, number> = { ...values }
      for (const f of this.faults) {
        if (f.device !== device || f.kind !== 'counter_reset' || t < f.start) continue
        // A reset counter keeps counting from zero after the fault: the offset stays. Counters
        // resumed from a reading taken after the reset already hold it (offset 0).
        let base = resets.get(f.id)
        if (!base) {
          base = Object.fromEntries(counters.map((k) => [k, f.start < resumedAt ? 0 : (values[k] ?? 0)]))
          resets.set(f.id, base)
        }
        for (const k of counters) if (out[k] !== undefined) out[k] = Math.max(0, (out[k] as number) - (base[k] as number))
      }
      return out
    }
    const present = (values: Readonly<Record<string, number>>, t: number): Record<string, number> => {
      let out = withResets(values, t)
      const active = this.active(device, t)
      const stuckFault = active.find((f) => f.kind === 'stuck')
      if (stuckFault) {
        if (stuck?.id !== stuckFault.id) stuck = { id: stuckFault.id, values: out }
        out = { ...stuck.values }
      } else stuck = undefined
      if (active.some((f) => f.kind === 'garbage')) {
        const rnd = mulberry32(mixSeed(deviceSeed, Math.floor(t / 1000)))
        for (const k of Object.keys(out)) out[k] = (rnd() < 0.5 ? -1 : 1) * 10 ** (3 + 6 * rnd())
      }
      return out
    }
    return Object.assign(present, { counters: withResets })
  }

  /** Hooks for a Modbus meter (modbus-meter.ts) of this device. */
  meterHooks(device: string, options: PresenterOptions = {}): MeterHooks {
    const present = this.createPresenter(device, METER_COUNTERS, options)
    return {
      present: (reading: MeterReading, t: number): MeterReading => {
        if (!this.faults.some((f) => f.device === device)) return reading
        // Canonical and extra names never overlap, so one presenter sees the device whole.
        const shown = present({ ...reading.values, ...reading.extra }, t)
        const pick = <K extends string>(keys: readonly K[]): Record<K, number> =>
          Object.fromEntries(keys.map((k) => [k, shown[k] as number])) as Record<K, number>
        return {
          ts: reading.ts,
          values: pick(Object.keys(reading.values) as (keyof MeterReading['values'])[]),
          extra: pick(Object.keys(reading.extra) as (keyof MeterReading['extra'])[]),
        }
      },
      online: (t) => this.online(device, t),
      clockOffsetMs: (t) => this.clockOffsetMs(device, t),
    }
  }
}

const METER_COUNTERS = [
  'energy_import_kwh',
  'energy_export_kwh',
  'energy_total_kwh',
  'reactive_energy_import_kvarh',
  'reactive_energy_export_kvarh',
  'reactive_energy_total_kvarh',
] as const
