import type { PlantModel } from '../core/plant.ts'
import { deviceKey } from '../core/plant.ts'
import { analyticsError } from './errors.ts'
import { DAY_MS, MINUTE_MS } from '../core/duration.ts'
import { calendarWindows, formatClock, localParts, parseClock, startOfLocalDate, wallToInstant } from './time.ts'
import type { TimeRange } from './types.ts'

/**
 * Buckets (hour, shift, day, month in the plant's zone) and roll-ups device → line → site →
 * enterprise. A line's energy is its main meter's when it has one, else the sum of its devices —
 * never main + sub-meters (the plant model names the main meter, core/plant.ts).
 */

/** A shift by local clock time; end ≤ start crosses midnight (22:00–06:00). */
export interface Shift {
  name: string
  /** 'HH:MM' */
  start: string
  /** 'HH:MM' (24:00 allowed) */
  end: string
}

export type Granularity = 'hour' | 'day' | 'month' | { shifts: readonly Shift[] }

export interface Bucket extends TimeRange {
  /** '2024-05-01T08' (hour), '2024-05-01' (day), '2024-05' (month), '2024-05-01 night' (shift, by its start date). */
  label: string
}

const pad = (n: number): string => String(n).padStart(2, '0')

function parsedShifts(shifts: readonly Shift[]): Array<{ name: string; from: number; to: number }> {
  const problems: string[] = []
  const out = shifts.map((s) => {
    const from = parseClock(s.start)
    const to = parseClock(s.end)
    if (from === undefined || to === undefined || from === 1440 || from === to) problems.push(`shift ${s.name}: ${s.start}–${s.end} is empty or malformed`)
    return { name: s.name, from: from ?? 0, to: to ?? 0 }
  })
  if (problems.length === 0) {
    const owner: string[][] = Array.from({ length: 1440 }, () => [])
    for (const s of out) {
      const end = s.to > s.from ? s.to : s.to + 1440
      for (let m = s.from; m < end; m++) (owner[m % 1440] as string[]).push(s.name)
    }
    for (let m = 0; m < 1440; m++) {
      const o = owner[m] as string[]
      if (o.length > 1 && (m === 0 || (owner[m - 1] as string[]).length <= 1)) problems.push(`shifts ${o.join(' and ')} overlap from ${formatClock(m)}`)
    }
  }
  if (new Set(shifts.map((s) => s.name)).size !== shifts.length) problems.push('shift names must be unique')
  if (problems.length > 0) throw analyticsError('ANALYTICS_ERR_SHIFTS', `invalid shifts:\n  ${problems.join('\n  ')}`, problems)
  return out
}

/** Occurrences of each shift overlapping [start, end), clipped to it; labelled by the local date the shift starts. */
export function shiftWindows(range: TimeRange, shifts: readonly Shift[], timezone: string): Bucket[] {
  const parsed = parsedShifts(shifts)
  const first = localParts(range.start, timezone)
  const last = localParts(range.end, timezone)
  const firstDay = Math.floor(first.naive / DAY_MS) - 1
  const lastDay = Math.floor(last.naive / DAY_MS)
  const out: Bucket[] = []
  for (let day = firstDay; day <= lastDay; day++) {
    const d = new Date(day * DAY_MS)
    const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
    for (const s of parsed) {
      const startNaive = day * DAY_MS + s.from * MINUTE_MS
      const endNaive = day * DAY_MS + (s.to > s.from ? s.to : s.to + 1440) * MINUTE_MS
      const start = s.from === 0 ? startOfLocalDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), timezone) : wallToInstant(startNaive, timezone)
      const end = wallToInstant(endNaive, timezone)
      const a = Math.max(start, range.start)
      const b = Math.min(end, range.end)
      if (a < b) out.push({ start: a, end: b, label: `${date} ${s.name}` })
    }
  }
  return out.sort((x, y) => x.start - y.start)
}

/** The buckets of a granularity over [start, end) in `timezone`, in time order. */
export function bucketWindows(range: TimeRange, granularity: Granularity, timezone: string): Bucket[] {
  if (typeof granularity === 'object') return shiftWindows(range, granularity.shifts, timezone)
  return calendarWindows(range, granularity, timezone).map((w) => {
    const l = localParts(w.start, timezone)
    const date = `${l.year}-${pad(l.month)}`
    const label =
      granularity === 'month' ? date : granularity === 'day' ? `${date}-${pad(l.day)}` : `${date}-${pad(l.day)}T${pad(Math.floor(l.minuteOfDay / 60))}`
    return { ...w, label }
  })
}

/** A device's amount per bucket (e.g. counterEnergy(samples, buckets).windows), aligned with the buckets. */
export interface BucketAmount {
  amount: number
  coverage: number
}

export interface RollupBucket extends Bucket {
  energyKwh: number
  /** The lowest coverage among the series summed into it (a sum is only as complete as its worst part). */
  coverage: number
}

export interface RollupNode {
  level: 'enterprise' | 'site' | 'line' | 'device'
  id: string
  /** 'enterprise/site/line/device' down to this node. */
  path: string
  /**
   * How the energy was obtained: a device's own data; a line's main meter or the sum of its devices;
   * a site or enterprise as the sum of its children.
   */
  source: 'device' | 'main-meter' | 'sum-of-devices' | 'sum-of-children'
  /** Devices under a line with a main meter: shown for drill-down, not added to the line. */
  subMeter?: boolean
  buckets: RollupBucket[]
  energyKwh: number
  /** Coverage over the whole range, weighted by bucket length. */
  coverage: number
  /** Device paths that should have contributed but had no data (no entry in the input). */
  missing: string[]
  children: RollupNode[]
}

function combine(buckets: readonly Bucket[], parts: ReadonlyArray<readonly RollupBucket[]>): RollupBucket[] {
  return buckets.map((b, i) => {
    let energy = 0
    let coverage = parts.length === 0 ? 0 : 1
    for (const p of parts) {
      const x = p[i] as RollupBucket
      energy += x.energyKwh
      coverage = Math.min(coverage, x.coverage)
    }
    return { ...b, energyKwh: energy, coverage }
  })
}

function finish(node: Omit<RollupNode, 'energyKwh' | 'coverage'>): RollupNode {
  let energy = 0
  let covered = 0
  let total = 0
  for (const b of node.buckets) {
    energy += b.energyKwh
    covered += b.coverage * (b.end - b.start)
    total += b.end - b.start
  }
  return { ...node, energyKwh: energy, coverage: total > 0 ? covered / total : 0 }
}

/**
 * Rolls device energy up the plant model. `deviceBuckets` maps deviceKey (core/plant.ts
 * 'enterprise/site/line/device') to the device's amounts per bucket, in the same order as `buckets`.
 * A device absent from the map contributes zero energy with zero coverage and is listed in `missing`.
 */
export function rollupEnergy(model: PlantModel, buckets: readonly Bucket[], deviceBuckets: ReadonlyMap<string, readonly BucketAmount[]>): RollupNode[] {
  for (const [key, series] of deviceBuckets) {
    if (series.length !== buckets.length) throw analyticsError('ANALYTICS_ERR_INPUT', `device ${key}: ${series.length} amounts for ${buckets.length} buckets`)
  }
  return model.enterprises.map((e) => {
    const sites = e.sites.map((s) => {
      const lines = s.lines.map((l) => {
        if (l.mainMeter !== undefined && !l.devices.some((d) => d.id === l.mainMeter)) {
          throw analyticsError('ANALYTICS_ERR_PLANT', `line ${e.id}/${s.id}/${l.id}: main meter ${l.mainMeter} is not one of its devices`)
        }
        const devices = l.devices.map((d) => {
          const key = deviceKey({ enterprise: e.id, site: s.id, line: l.id, device: d.id })
          const series = deviceBuckets.get(key)
          const rb: RollupBucket[] = buckets.map((b, i) => ({
            ...b,
            energyKwh: series ? (series[i] as BucketAmount).amount : 0,
            coverage: series ? (series[i] as BucketAmount).coverage : 0,
          }))
          return finish({
            level: 'device',
            id: d.id,
            path: key,
            source: 'device',
            ...(l.mainMeter !== undefined && l.mainMeter !== d.id ? { subMeter: true } : {}),
            buckets: rb,
            missing: series ? [] : [key],
            children: [],
          })
        })
        const counted = l.mainMeter !== undefined ? devices.filter((d) => d.id === l.mainMeter) : devices
        return finish({
          level: 'line',
          id: l.id,
          path: `${e.id}/${s.id}/${l.id}`,
          source: l.mainMeter !== undefined ? 'main-meter' : 'sum-of-devices',
          buckets: combine(
            buckets,
            counted.map((d) => d.buckets),
          ),
          missing: counted.flatMap((d) => d.missing),
          children: devices,
        })
      })
      return finish({
        level: 'site',
        id: s.id,
        path: `${e.id}/${s.id}`,
        source: 'sum-of-children',
        buckets: combine(
          buckets,
          lines.map((x) => x.buckets),
        ),
        missing: lines.flatMap((x) => x.missing),
        children: lines,
      })
    })
    return finish({
      level: 'enterprise',
      id: e.id,
      path: e.id,
      source: 'sum-of-children',
      buckets: combine(
        buckets,
        sites.map((x) => x.buckets),
      ),
      missing: sites.flatMap((x) => x.missing),
      children: sites,
    })
  })
}
