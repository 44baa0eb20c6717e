import { existsSync, readFileSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { buildLoadShape } from './data/build-load-shape.ts'
import { interpolateSlots, loadLoadShape, STEEL_LOAD_SHAPE_URL } from './load-shape.ts'

// The CSV is not in the repository; CI keeps shared/ beside the clone, as on a developer machine.
const CSV_PATH = fileURLToPath(new URL('../../shared/data/uci-steel-industry-energy-2018.csv', import.meta.url))

function readCsv(): string {
  if (!existsSync(CSV_PATH)) {
    throw new Error(
      `${CSV_PATH} is missing: the load-shape test needs the UCI steel CSV in ../shared/data beside the repository (see simulators/data/README.md)`,
    )
  }
  return readFileSync(CSV_PATH, 'utf8')
}

/** Slot means straight from the CSV, written apart from build-load-shape.ts (Date arithmetic). */
function slotsFromCsv(text: string): { kw: number[]; pf: number[] } {
  const p = new Array<number>(672).fill(0)
  const q = new Array<number>(672).fill(0)
  const n = new Array<number>(672).fill(0)
  for (const line of text.split('\n').slice(1)) {
    if (!line.trim()) continue
    const [date = '', usage = '', lag = ''] = line.split(',')
    const [d, t] = date.split(' ') as [string, string]
    const [dd, mm, yyyy] = d.split('/').map(Number) as [number, number, number]
    const [hh, mi] = t.split(':').map(Number) as [number, number]
    // "dd/mm 00:00" closes the 23:45 interval of dd itself: it is listed after dd 23:45.
    const end = Date.UTC(yyyy, mm - 1, dd, hh, mi) + (hh === 0 && mi === 0 ? 86_400_000 : 0)
    const start = new Date(end - 15 * 60_000)
    const monday0 = (start.getUTCDay() + 6) % 7
    const slot = monday0 * 96 + start.getUTCHours() * 4 + start.getUTCMinutes() / 15
    p[slot] = (p[slot] ?? 0) + Number(usage)
    q[slot] = (q[slot] ?? 0) + Number(lag)
    n[slot] = (n[slot] ?? 0) + 1
  }
  return {
    kw: p.map((sum, i) => (sum / (n[i] ?? 1)) * 4),
    pf: p.map((sum, i) => sum / Math.hypot(sum, q[i] ?? 0)),
  }
}

describe('steel load shape', () => {
  const shape = loadLoadShape()

  it('is small, complete and carries its credit and licence', () => {
    expect(statSync(STEEL_LOAD_SHAPE_URL).size).toBeLessThan(40 * 1024)
    expect(shape.power).toHaveLength(672)
    expect(shape.powerFactor).toHaveLength(672)
    expect(Math.max(...shape.power)).toBe(1)
    expect(shape.source.doi).toBe('10.24432/C52G8C')
    expect(shape.source.licence).toBe('CC BY 4.0')
  })

  it('matches numbers checked by hand from the CSV', () => {
    readCsv()
    // Computed separately (Python, csv + datetime) from the CSV: slot → mean kW, aggregate PF.
    const handChecked: [slot: number, kw: number, pf: number][] = [
      [0 * 96 + 40, 259.02113, 0.9132296], // Monday 10:00
      [3 * 96 + 38, 298.71846, 0.9089774], // Thursday 09:30
      [5 * 96 + 95, 21.873077, 0.7073928], // Saturday 23:45: the "00:00" rows
      [6 * 96 + 48, 16.96, 0.9990788], // Sunday 12:00
      [2 * 96 + 0, 37.418462, 0.7565439], // Wednesday 00:00
    ]
    expect(shape.peakMeanKw).toBeCloseTo(323.66077, 3)
    for (const [slot, kw, pf] of handChecked) {
      expect(Math.abs((shape.power[slot] ?? -1) * shape.peakMeanKw - kw), `slot ${slot} kW`).toBeLessThan(0.02)
      expect(Math.abs((shape.powerFactor[slot] ?? -1) - pf), `slot ${slot} PF`).toBeLessThan(6e-5)
    }
  })

  it('agrees with the CSV in every slot, and the generator reproduces the shipped file', () => {
    const csv = readCsv()
    const { kw, pf } = slotsFromCsv(csv)
    const peak = Math.max(...kw)
    for (let i = 0; i < 672; i++) {
      expect(Math.abs((shape.power[i] ?? -1) - (kw[i] ?? 0) / peak), `slot ${i} power`).toBeLessThanOrEqual(5.01e-5)
      expect(Math.abs((shape.powerFactor[i] ?? -1) - (pf[i] ?? 0)), `slot ${i} PF`).toBeLessThanOrEqual(5.01e-5)
    }
    expect(buildLoadShape(csv)).toEqual(JSON.parse(readFileSync(STEEL_LOAD_SHAPE_URL, 'utf8')))
  })

  it('interpolates between slot middles and wraps Sunday night into Monday', () => {
    const slots = [10, 20, 30, 40]
    expect(interpolateSlots(slots, 7.5)).toBe(10)
    expect(interpolateSlots(slots, 15)).toBe(15)
    expect(interpolateSlots(slots, 52.5)).toBe(40)
    expect(interpolateSlots(slots, 60)).toBe(25)
    expect(interpolateSlots(slots, 0)).toBe(25)
  })
})
