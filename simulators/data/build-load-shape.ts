/**
 * Builds `steel-load-shape.json` (the weekly load shape the simulators ship) from the UCI "Steel
 * Industry Energy Consumption" CSV. Run from the repo root:
 *
 *   npx tsx simulators/data/build-load-shape.ts ../shared/data/uci-steel-industry-energy-2018.csv
 *
 * Optional second argument: the output path (default: beside this script).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DAY_MS } from '../../core/duration.ts'

export const SLOT_MINUTES = 15
export const SLOTS_PER_DAY = (24 * 60) / SLOT_MINUTES
export const SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY

/** One 15-minute interval of the CSV, placed in the week (slot 0 = Monday 00:00–00:15). */
export interface SteelInterval {
  slotOfWeek: number
  usageKwh: number
  laggingKvarh: number
}

const DATE_RE = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2})$/

/**
 * Parses the CSV. The `date` column is the END of the interval, and each day's `00:00` row is the
 * end of that same day's last interval (it follows 23:45 in the file), so it belongs to 23:45–24:00
 * of the date it carries, not to the next day. The weekday is computed from the date; the file's
 * own Day_of_week column is not trusted.
 */
export function parseSteelCsv(text: string): SteelInterval[] {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l.length > 0)
  const header = (lines.shift() ?? '').split(',')
  const col = (name: string): number => {
    const i = header.indexOf(name)
    if (i < 0) throw new Error(`CSV has no column ${JSON.stringify(name)} (header: ${header.join(',')})`)
    return i
  }
  const iDate = col('date')
  const iUsage = col('Usage_kWh')
  const iLag = col('Lagging_Current_Reactive_Power_kVarh')
  const out: SteelInterval[] = []
  for (const [n, line] of lines.entries()) {
    const f = line.split(',')
    const m = DATE_RE.exec(f[iDate] ?? '')
    if (!m) throw new Error(`CSV line ${n + 2}: bad date ${JSON.stringify(f[iDate])}`)
    const [, dd, mm, yyyy, hh, mi] = m.map(Number) as [number, number, number, number, number, number]
    let endMinute = hh * 60 + mi
    if (endMinute === 0) endMinute = 24 * 60
    if (endMinute % SLOT_MINUTES !== 0) throw new Error(`CSV line ${n + 2}: ${f[iDate]} is not on a 15-minute boundary`)
    const slotOfDay = endMinute / SLOT_MINUTES - 1
    // 1970-01-01 was a Thursday: shift so that Monday = 0.
    const dayOfWeek = (Math.floor(Date.UTC(yyyy, mm - 1, dd) / DAY_MS) + 3) % 7
    const usageKwh = Number(f[iUsage])
    const laggingKvarh = Number(f[iLag])
    if (!Number.isFinite(usageKwh) || !Number.isFinite(laggingKvarh)) throw new Error(`CSV line ${n + 2}: non-numeric value`)
    out.push({ slotOfWeek: dayOfWeek * SLOTS_PER_DAY + slotOfDay, usageKwh, laggingKvarh })
  }
  return out
}

export interface WeeklyAggregate {
  /** Mean active power per slot of the week, kW (= mean kWh per 15 min × 4). */
  meanKw: number[]
  /** Aggregate lagging power factor per slot: ΣkWh / √((ΣkWh)² + (Σ lagging kvarh)²). */
  powerFactor: number[]
  /** Number of intervals averaged into each slot. */
  count: number[]
}

export function aggregateWeekly(rows: readonly SteelInterval[]): WeeklyAggregate {
  const sumKwh = new Array<number>(SLOTS_PER_WEEK).fill(0)
  const sumKvarh = new Array<number>(SLOTS_PER_WEEK).fill(0)
  const count = new Array<number>(SLOTS_PER_WEEK).fill(0)
  for (const r of rows) {
    sumKwh[r.slotOfWeek] = (sumKwh[r.slotOfWeek] ?? 0) + r.usageKwh
    sumKvarh[r.slotOfWeek] = (sumKvarh[r.slotOfWeek] ?? 0) + r.laggingKvarh
    count[r.slotOfWeek] = (count[r.slotOfWeek] ?? 0) + 1
  }
  const meanKw: number[] = []
  const powerFactor: number[] = []
  for (let i = 0; i < SLOTS_PER_WEEK; i++) {
    const n = count[i] ?? 0
    if (n === 0) throw new Error(`no data for slot ${i} of the week`)
    const p = sumKwh[i] ?? 0
    const q = sumKvarh[i] ?? 0
    meanKw.push(((p / n) * 60) / SLOT_MINUTES)
    powerFactor.push(p === 0 && q === 0 ? 1 : p / Math.hypot(p, q))
  }
  return { meanKw, powerFactor, count }
}

export function buildLoadShape(csvText: string): Record<string, unknown> {
  const rows = parseSteelCsv(csvText)
  const agg = aggregateWeekly(rows)
  const peakMeanKw = Math.max(...agg.meanKw)
  return {
    name: 'steel-weekly',
    description:
      'Mean active power per 15-minute slot of the week, normalised to the largest slot mean (1.0), and the aggregate lagging power factor per slot, from one year of a steel plant.',
    source: {
      title: 'Steel Industry Energy Consumption',
      publisher: 'UCI Machine Learning Repository',
      creators: 'V E Sathishkumar, Changsun Shin, Youngyun Cho',
      data: 'DAEWOO Steel Co. Ltd, Gwangyang, South Korea, 2018',
      doi: '10.24432/C52G8C',
      url: 'https://doi.org/10.24432/C52G8C',
      licence: 'CC BY 4.0',
      licenceUrl: 'https://creativecommons.org/licenses/by/4.0/',
      changes:
        'Aggregated by PlantWatt (simulators/data/build-load-shape.ts): per slot of the week, the mean of Usage_kWh × 4 divided by the largest slot mean, and ΣUsage_kWh / √((ΣUsage_kWh)² + (ΣLagging_Current_Reactive_Power_kVarh)²).',
    },
    generatedBy: 'simulators/data/build-load-shape.ts',
    rows: rows.length,
    slotMinutes: SLOT_MINUTES,
    slotZero: 'Monday 00:00-00:15 local time',
    peakMeanKw: round(peakMeanKw, 4),
    intervalsPerSlot: { min: Math.min(...agg.count), max: Math.max(...agg.count) },
    power: agg.meanKw.map((kw) => round(kw / peakMeanKw, 4)),
    powerFactor: agg.powerFactor.map((pf) => round(pf, 4)),
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

function main(argv: string[]): void {
  const csvPath = argv[0]
  if (!csvPath) {
    process.stderr.write('usage: tsx simulators/data/build-load-shape.ts <uci-steel-industry-energy-2018.csv> [out.json]\n')
    process.exit(2)
  }
  const out = argv[1] ?? join(dirname(fileURLToPath(import.meta.url)), 'steel-load-shape.json')
  const shape = buildLoadShape(readFileSync(csvPath, 'utf8'))
  // One slot array per line keeps the file small and still diffable.
  const text = JSON.stringify(shape, null, 2).replace(/\[\n\s+([\d.,\s]+?)\n\s+\]/g, (_m, body: string) => `[${body.replace(/\s+/g, '')}]`)
  writeFileSync(out, `${text}\n`)
  process.stdout.write(`wrote ${out} (${Buffer.byteLength(text)} bytes) from ${shape.rows as number} rows\n`)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2))
