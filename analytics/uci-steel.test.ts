import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { counterEnergy, counterIncrements } from './energy.ts'
import { HUBEI_SINGLE_PART_1_10KV, HUBEI_TWO_PART_1_10KV, resolveReference } from './reference/index.ts'
import type { Tariff } from './reference/schemas.ts'
import { touCost } from './tariff.ts'
import { calendarWindows } from './time.ts'

/**
 * Real load data: UCI "Steel Industry Energy Consumption" (DAEWOO Steel, Korea, 2018), CC BY 4.0,
 * doi:10.24432/C52G8C — 35 040 rows of 15-minute Usage_kWh. It sits beside the clone in CI; when it
 * is missing the tests fail naming the path.
 *
 * The 'date' is the END of each interval, and the row dated "D 00:00" comes after "D 23:45": it is
 * the last interval of day D (23:45–24:00), whose true end is D+1 00:00. The wall clock is read as
 * the plant's (Asia/Shanghai, no DST like Korea in 2018), since TOU periods follow the wall clock.
 */
const FILE = fileURLToPath(new URL('../../shared/data/uci-steel-industry-energy-2018.csv', import.meta.url))
const TZ = 'Asia/Shanghai'
const Q = 900_000

interface Row {
  /** label month 1–12 (the day the interval belongs to) */
  month: number
  day: number
  /** local hour of the interval's start */
  startHour: number
  end: number
  usage: number
}

let cache: Row[] | undefined
function rows(): Row[] {
  if (cache) return cache
  if (!existsSync(FILE)) throw new Error(`real-data test needs ${FILE} (UCI steel industry energy 2018): it is missing`)
  const lines = readFileSync(FILE, 'utf8')
    .replace(/^\uFEFF/, '')
    .trim()
    .split(/\r?\n/)
  expect(lines[0]?.startsWith('date,Usage_kWh,')).toBe(true)
  cache = lines.slice(1).map((line) => {
    const [date, usage] = line.split(',') as [string, string]
    const m = /^(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d)$/.exec(date)
    if (!m) throw new Error(`bad date ${date}`)
    const [d, mo, y, hh, mm] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])]
    const midnight = hh === 0 && mm === 0
    // Shanghai is UTC+8 all year: wall time → epoch by subtracting 8 h.
    const end = Date.UTC(y, mo - 1, midnight ? d + 1 : d, hh, mm) - 8 * 3_600_000
    const startHour = midnight ? 23 : Math.floor((hh * 60 + mm - 15) / 60)
    return { month: mo, day: d, startHour, end, usage: Number(usage) }
  })
  return cache
}

/** The data as a meter's cumulative register: uint16 kWh, wrapping at 65 536 (many rollovers in a year). */
function counterSamples(): Array<{ ts: number; value: number }> {
  const r = rows()
  const out = [{ ts: (r[0] as Row).end - Q, value: 60_000 }]
  let total = 60_000
  for (const row of r) {
    total += row.usage
    out.push({ ts: row.end, value: total % 65_536 })
  }
  return out
}

describe('UCI steel 2018 real data', () => {
  it('has 35 040 intervals, back to back', () => {
    const r = rows()
    expect(r).toHaveLength(35_040)
    for (let i = 1; i < r.length; i++) expect((r[i] as Row).end - (r[i - 1] as Row).end).toBe(Q)
  })

  it('monthly energy from the (rolling-over) counter equals the sum of Usage_kWh per month', () => {
    // Independent: plain sums of the Usage_kWh column grouped by the row's date label.
    const expected = new Array<number>(12).fill(0)
    for (const row of rows()) expected[row.month - 1] = (expected[row.month - 1] as number) + row.usage
    const months = calendarWindows({ start: Date.UTC(2017, 11, 31, 16), end: Date.UTC(2018, 11, 31, 16) }, 'month', TZ)
    expect(months).toHaveLength(12)
    const r = counterEnergy(counterSamples(), months, { modulus: 65_536, maxGapMs: Q })
    r.windows.forEach((w, i) => {
      expect(w.amount).toBeCloseTo(expected[i] as number, 6)
      expect(w.coverage).toBe(1)
    })
    expect(r.counts.rollover).toBeGreaterThan(5)
    expect(r.counts.reset + r.counts.gap + r.counts.backstep).toBe(0)
    // January 2018 starts at 60 000 and the register wraps at 65 536: its first rollover is after 5 536 kWh.
    expect(expected[0]).toBeGreaterThan(5_536)
  })

  it('one month (July, summer hours) of TOU cost under the Hubei tariff equals a straightforward loop', () => {
    // The January 2026 prices applied to the 2018 load (the version's effectiveFrom moved to 2018 by
    // configuration, as a user would to price history at today's tariff).
    const atToday = (t: Tariff): Tariff => ({ ...t, versions: t.versions.map((v) => ({ ...v, effectiveFrom: '2018-01-01' })) })
    const ref = resolveReference({ tariffs: { tariffs: [atToday(HUBEI_SINGLE_PART_1_10KV), atToday(HUBEI_TWO_PART_1_10KV)] } })
    // Independent: July–August hours of 鄂发改价管〔2024〕77号 by the interval's start hour.
    const julyPeriod = (h: number): string => (h < 6 || (h >= 12 && h < 14) ? 'valley' : h < 16 ? 'flat' : h >= 20 && h < 22 ? 'critical_peak' : 'peak')
    const single: Record<string, number> = { critical_peak: 1.113999, peak: 0.910961, flat: 0.715686, valley: 0.496924 }
    const twoPart: Record<string, number> = { critical_peak: 1.049999, peak: 0.848961, flat: 0.651886, valley: 0.432924 }
    let cost = 0
    let cost2 = 0
    let energy = 0
    let maxUsage = 0
    for (const row of rows()) {
      if (row.month !== 7) continue
      cost += row.usage * (single[julyPeriod(row.startHour)] as number)
      cost2 += row.usage * (twoPart[julyPeriod(row.startHour)] as number)
      energy += row.usage
      maxUsage = Math.max(maxUsage, row.usage)
    }
    const julyStart = Date.UTC(2018, 5, 30, 16)
    const julyEnd = Date.UTC(2018, 6, 31, 16)
    const inc = counterIncrements(counterSamples(), { modulus: 65_536, maxGapMs: Q }).increments.filter((i) => i.start >= julyStart && i.end <= julyEnd)
    const r = touCost(inc, ref.tariffs[0] as Tariff)
    expect(r.energyKwh).toBeCloseTo(energy, 6)
    expect(r.totalCost).toBeCloseTo(cost, 6)
    expect(r.byMonth.map((m) => m.month)).toEqual(['2018-07'])
    // Two-part: energy at two-part prices + max 15-minute demand (max Usage × 4 kW) × 42 yuan/kW·month.
    const r2 = touCost(inc, ref.tariffs[1] as Tariff)
    expect(r2.byMonth[0]?.maxDemand?.demandKw).toBeCloseTo(maxUsage * 4, 6)
    expect(r2.totalCost).toBeCloseTo(cost2 + maxUsage * 4 * 42, 6)
  })
})
