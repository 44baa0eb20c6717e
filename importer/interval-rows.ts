import { QUANTITIES } from '../core/quantities.ts'
import { wallToInstant } from '../analytics/time.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../storage/store.ts'
import type { Column, CsvPlan } from './csv-plan.ts'
import type { DeviceResolver, ResolvedDevice } from './device-resolver.ts'
import type { ImportOptions } from './options.ts'
import { badRow, type DeviceSpan, type Retraction, type RowReader, type RowVerdict, type ScanLearned } from './row-verdict.ts'
import { badTimestamp, readRowTime } from './timestamp.ts'

const DAY_MS = 86_400_000

/** The options the interval layout reads. */
export type IntervalRowOptions = Pick<ImportOptions, 'timestampFormat' | 'dateOrder' | 'midnight' | 'timestampIs' | 'startKwh' | 'intervalMinutes'>

/** Which pass over the file this is, and what it has to go on. */
export interface IntervalPass {
  /** validate: learn every device's interval length; write: use what the validating pass learned. */
  pass: 'validate' | 'write'
  /** Filled at the end of the validating pass; read by the writing pass. */
  learned: ScanLearned
  /** The device of rows without one (the `device` option, resolved). */
  fixedDevice?: ResolvedDevice
  /** Build the points of good rows (the writing pass); without, only the verdicts and the counters advance. */
  withPoints: boolean
}

/** One device's running state. */
interface IntervalState {
  tags: Readonly<Record<string, string>>
  /** Timestamp (as the file means it: start or end) of the device's previous good row. */
  lastTs: number
  /** Local day (days since 1970 of the wall time) the previous row was labelled with; -1 for an instant. */
  lastLabelDay: number
  firstLine: number
  /** Timestamp (as the file means it) of the device's first good row. */
  firstTs: number
  rows: number
  /** startKwh (else 0) plus every good interval's kWh, kWh: what the rows are checked against, the same in both passes. */
  total: number
  /** Running sums of the cumulative extra columns, in plan order. */
  extraTotals: number[]
  /** Writing pass: what the written counters add to `total` and `extraTotals` (the counters' starts from the store). */
  shift: number
  extraShifts: number[]
  /** Smallest step between consecutive rows seen so far (ms). */
  minStepMs: number
}

type Found<K extends string, T> = ({ kind: K } & T) | RowVerdict

/**
 * The interval layout: kWh per interval (plus extra columns) per row, turned into counters per
 * device (README "Interval energy becomes a counter"). Rows of a device must come in time order; a
 * D 00:00 row after later rows of day D is the end of D (`midnight: auto`); an interval that starts
 * after the previous one ended is a gap and gets a counter reading at its start. Without
 * `intervalMinutes`, the validating pass learns each device's interval length (its smallest step);
 * a device with one row alone has none and its row is taken back at the end.
 */
export class IntervalRowReader implements RowReader {
  private readonly states = new Map<string, IntervalState>()
  private readonly fixedIntervalMs: number | undefined
  private readonly energy: Column

  constructor(
    private readonly plan: CsvPlan,
    private readonly options: IntervalRowOptions,
    private readonly resolver: DeviceResolver,
    private readonly run: IntervalPass,
  ) {
    if (!plan.energy) throw new TypeError('IntervalRowReader needs an interval-layout plan (a kWh column)')
    this.energy = plan.energy
    this.fixedIntervalMs = options.intervalMinutes !== undefined ? options.intervalMinutes * 60_000 : undefined
  }

  read(fields: readonly string[], line: number): RowVerdict {
    const who = this.deviceOf(fields)
    if (who.kind !== 'device') return who
    const { device } = who
    const state = this.states.get(device.key)
    const when = this.timeOf(fields, device, state)
    if (when.kind !== 'time') return when
    const values = this.valuesOf(fields)
    if (values.kind !== 'values') return values
    if (state) {
      const problem = this.sequenceProblem(state, device, when.ts, values.kwh)
      if (problem) return problem
    }
    const intervalMs = this.fixedIntervalMs ?? this.run.learned.intervalMs.get(device.key)
    // Writing pass: a device whose length stayed unknown had one good row, rejected after the first
    // pass (IMPORT_ERR_INTERVAL). Its state still advances, as in the first pass, so every later row
    // of the device gets the same verdict as there.
    const lone = this.run.pass === 'write' && intervalMs === undefined
    const { points, gap } = this.advance(device, state, line, when, values, intervalMs)
    if (lone) return { kind: 'passed' }
    return { kind: 'good', device, ts: when.ts, points, gap, midnightShifted: when.shifted }
  }

  /** End of the validating pass: each device's interval length and span, or its lone row taken back. */
  finish(): Retraction[] {
    const lone: Retraction[] = []
    if (this.run.pass === 'write') return lone
    const spans = (this.run.learned.spans ??= new Map())
    for (const [key, s] of this.states) {
      if (this.fixedIntervalMs === undefined && s.rows >= 2) this.run.learned.intervalMs.set(key, s.minStepMs)
      const intervalMs = this.fixedIntervalMs ?? this.run.learned.intervalMs.get(key)
      if (intervalMs !== undefined) spans.set(key, this.spanOf(s, intervalMs))
      else {
        // One row alone does not say how long its interval is: its counter has no start.
        const message = `${key} has a single interval row: its length is unknown (give intervalMinutes)`
        lone.push({ deviceKey: key, line: s.firstLine, problem: { column: this.plan.timestamp.name, code: 'IMPORT_ERR_INTERVAL', message } })
      }
    }
    return lone
  }

  /** A device's rows of the file: first start, last end, and what each counter grew by. */
  private spanOf(s: IntervalState, intervalMs: number): DeviceSpan {
    const increase: Record<string, number> = { energy_import_kwh: s.total - (this.options.startKwh ?? 0) }
    this.plan.extras.forEach((x, i) => {
      if (x.cumulative) increase[x.quantity] = s.extraTotals[i] as number
    })
    return { tags: s.tags, firstStart: this.startOf(s.firstTs, intervalMs), lastEnd: this.startOf(s.lastTs, intervalMs) + intervalMs, increase }
  }

  private deviceOf(fields: readonly string[]): Found<'device', { device: ResolvedDevice }> {
    const column = this.plan.device
    const fixed = this.run.fixedDevice
    if (!column) return fixed ? { kind: 'device', device: fixed } : { kind: 'passed' }
    const text = (fields[column.index] ?? '').trim()
    if (text === '' && fixed) return { kind: 'device', device: fixed }
    const r = this.resolver.resolve(text)
    return r.ok ? { kind: 'device', device: r.device } : badRow(column.name, r.code, r.message)
  }

  /** The row's instant; a D 00:00 row after later rows of day D is D+1 00:00 (DOMAIN.md: the UCI steel file). */
  private timeOf(
    fields: readonly string[],
    device: ResolvedDevice,
    state: IntervalState | undefined,
  ): Found<'time', { ts: number; labelDay: number; shifted: boolean }> {
    const column = this.plan.timestamp
    const tsText = fields[column.index] ?? ''
    const time = readRowTime(tsText, device.timezone, this.options)
    if (time === undefined) return { kind: 'bad', problem: badTimestamp(column.name, tsText, this.options) }
    const { parsed, ts } = time
    if (parsed.kind !== 'wall') return { kind: 'time', ts, labelDay: -1, shifted: false }
    const labelDay = Math.floor(parsed.naive / DAY_MS)
    if (this.options.midnight === 'auto' && state && parsed.naive % DAY_MS === 0 && ts <= state.lastTs && state.lastLabelDay === labelDay) {
      return { kind: 'time', ts: wallToInstant(parsed.naive + DAY_MS, device.timezone), labelDay, shifted: true }
    }
    return { kind: 'time', ts, labelDay, shifted: false }
  }

  /** The interval's kWh and the extra columns' values (scaled), checked against their ranges. */
  private valuesOf(fields: readonly string[]): Found<'values', { kwh: number; extras: number[] }> {
    const eText = (fields[this.energy.index] ?? '').trim()
    const kwh = eText === '' ? Number.NaN : Number(eText)
    if (!Number.isFinite(kwh)) return badRow(this.energy.name, 'IMPORT_ERR_VALUE', `${JSON.stringify(eText)} is not a number (kWh in the interval)`)
    if (kwh < 0) return badRow(this.energy.name, 'IMPORT_ERR_VALUE_RANGE', `${kwh} kWh: energy in an interval cannot be negative (the counter only grows)`)
    const extras: number[] = []
    for (const x of this.plan.extras) {
      const text = (fields[x.index] ?? '').trim()
      const v = text === '' ? Number.NaN : Number(text) * x.scale
      const info = QUANTITIES[x.quantity]
      if (!Number.isFinite(v)) return badRow(x.name, 'IMPORT_ERR_VALUE', `${JSON.stringify(text)} is not a number`)
      const lo = x.cumulative ? 0 : info.min
      if (v < lo || v > info.max) return badRow(x.name, 'IMPORT_ERR_VALUE_RANGE', `${x.quantity} = ${v} is outside ${lo}…${info.max} ${info.unit}`)
      extras.push(v)
    }
    return { kind: 'values', kwh, extras }
  }

  /** A row that repeats, goes back before or overlaps the device's previous one, or overflows its counter. */
  private sequenceProblem(state: IntervalState, device: ResolvedDevice, ts: number, kwh: number): RowVerdict | undefined {
    const column = this.plan.timestamp.name
    const at = new Date(ts).toISOString()
    if (ts === state.lastTs) return badRow(column, 'IMPORT_ERR_DUPLICATE', `a second interval of ${device.key} at ${at}`)
    if (ts < state.lastTs) {
      return badRow(
        column,
        'IMPORT_ERR_ORDER',
        `${at} is before the previous interval of ${device.key} (${new Date(state.lastTs).toISOString()}): interval rows of a device must be in time order`,
      )
    }
    if (this.fixedIntervalMs !== undefined && ts - state.lastTs < this.fixedIntervalMs) {
      return badRow(column, 'IMPORT_ERR_ORDER', `${at} is less than intervalMinutes after the previous interval of ${device.key}: the intervals overlap`)
    }
    const max = QUANTITIES.energy_import_kwh.max
    if (state.total + kwh > max) return badRow(this.energy.name, 'IMPORT_ERR_VALUE_RANGE', `the counter would exceed ${max} kWh`)
    return undefined
  }

  /** A good row: advances the device's state and counters; its points when asked for and the length is known. */
  private advance(
    device: ResolvedDevice,
    state: IntervalState | undefined,
    line: number,
    when: { ts: number; labelDay: number },
    values: { kwh: number; extras: number[] },
    intervalMs: number | undefined,
  ): { points: TelemetryPoint[]; gap: boolean } {
    const { ts } = when
    const s = state ?? this.newState(device, line, ts)
    if (state) s.minStepMs = Math.min(s.minStepMs, ts - s.lastTs)
    const isFirst = s.rows === 0
    const prevTs = s.lastTs
    s.rows++
    s.lastTs = ts
    s.lastLabelDay = when.labelDay
    if (intervalMs === undefined) {
      this.accumulate(s, values)
      return { points: [], gap: false }
    }
    const start = this.startOf(ts, intervalMs)
    const gap = !isFirst && start > this.startOf(prevTs, intervalMs) + intervalMs
    if (!this.run.withPoints) {
      this.accumulate(s, values)
      return { points: [], gap }
    }
    const startFields = this.startFields(s, values, isFirst || gap)
    // Mean power over the interval, at its start like the other per-interval values (README "Interval energy becomes a counter").
    if (this.plan.meanPower) startFields.active_power_kw = (values.kwh * 3_600_000) / intervalMs
    this.accumulate(s, values)
    const endFields = this.counterFields(s)
    const points: TelemetryPoint[] = []
    if (Object.keys(startFields).length > 0) points.push({ measurement: TELEMETRY_MEASUREMENT, tags: device.tags, fields: startFields, ts: start })
    points.push({ measurement: TELEMETRY_MEASUREMENT, tags: device.tags, fields: endFields, ts: start + intervalMs })
    return { points, gap }
  }

  /**
   * Fields at the interval's start: the counters' readings there (the running sums so far) when it is
   * the device's first interval or follows a hole, and the non-cumulative extras (the interval's own values).
   */
  private startFields(s: IntervalState, values: { extras: number[] }, counters: boolean): Record<string, number> {
    const fields: Record<string, number> = {}
    if (counters) Object.assign(fields, this.counterFields(s))
    this.plan.extras.forEach((x, i) => {
      if (!x.cumulative) fields[x.quantity] = values.extras[i] as number
    })
    return fields
  }

  /** The counters' readings now: the running sums shifted to the counters' starts. */
  private counterFields(s: IntervalState): Record<string, number> {
    const fields: Record<string, number> = { energy_import_kwh: s.total + s.shift }
    this.plan.extras.forEach((x, i) => {
      if (x.cumulative) fields[x.quantity] = (s.extraTotals[i] as number) + (s.extraShifts[i] as number)
    })
    return fields
  }

  /** Adds the interval's kWh and cumulative extras to the device's running sums. */
  private accumulate(s: IntervalState, values: { kwh: number; extras: number[] }): void {
    s.total += values.kwh
    this.plan.extras.forEach((x, i) => {
      if (x.cumulative) s.extraTotals[i] = (s.extraTotals[i] as number) + (values.extras[i] as number)
    })
  }

  private newState(device: ResolvedDevice, line: number, ts: number): IntervalState {
    const base = this.options.startKwh ?? 0
    // Writing pass: the counters continue from where they were set between the passes (counter-start.ts).
    const starts = this.run.pass === 'write' ? this.run.learned.counterStarts?.get(device.key) : undefined
    const s: IntervalState = {
      tags: device.tags,
      lastTs: ts,
      lastLabelDay: -1,
      firstLine: line,
      firstTs: ts,
      rows: 0,
      total: base,
      extraTotals: this.plan.extras.map(() => 0),
      shift: (starts?.energy_import_kwh ?? base) - base,
      extraShifts: this.plan.extras.map((x) => starts?.[x.quantity] ?? 0),
      minStepMs: Number.POSITIVE_INFINITY,
    }
    this.states.set(device.key, s)
    return s
  }

  /** Start of the interval a timestamp marks (its start or its end, as `timestampIs` says). */
  private startOf(ts: number, intervalMs: number): number {
    return (this.plan.timestampMarks ?? this.options.timestampIs) === 'end' ? ts - intervalMs : ts
  }
}
