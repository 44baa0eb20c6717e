import { generateKeyPairSync } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveProvinceConfig } from './config.ts'
import type { IndicatorRecord } from './message.ts'
import { enterpriseFigures, monthRange } from './overview.ts'
import { EnterpriseRegistry } from './registry.ts'
import { provinceOverview } from './rollup.ts'
import { ProvinceStore } from './store.ts'

const TZ = 'Asia/Shanghai'
const NOV = Date.UTC(2026, 9, 31, 16) // 2026-11-01 00:00 +08:00
const Q = 900_000
const D = 86_400_000
const NOW = Date.UTC(2026, 11, 6, 4) // December: November is closed

const pem = (): string => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()

function config() {
  return resolveProvinceConfig({
    name: 'hubei',
    enterprises: [
      {
        id: 'a',
        name: 'A Cement',
        city: 'wuhan',
        publicKey: pem(),
        recognitions: [
          { kind: 'smart_factory', document: '鄂经信〔2026〕1号', date: '2026-03-01' },
          { kind: 'digital_workshop', workshop: 'kiln', document: '鄂经信〔2026〕2号', date: '2026-03-01' },
          { kind: 'digital_workshop', workshop: 'mill', document: '鄂经信〔2026〕2号', date: '2026-03-01' },
        ],
      },
      { id: 'b', name: 'B Parts', city: 'wuhan', publicKey: pem() },
      { id: 'c', name: 'C Steel', city: 'xiangyang', publicKey: pem() },
    ],
  })
}

const rec = (p: Partial<IndicatorRecord> & Pick<IndicatorRecord, 'indicator' | 'period' | 'start' | 'value'>): IndicatorRecord => ({
  subject: 'boundary',
  end: p.start + (p.period === '15m' ? Q : p.period === 'day' ? D : 30 * D),
  revision: 0,
  unit: 'kWh',
  basis: 'test',
  ...p,
})

const quarters = (days: number, value: number): IndicatorRecord[] =>
  Array.from({ length: days * 96 }, (_, i) => rec({ indicator: 'energy', carrier: 'electricity', period: '15m', start: NOV + i * Q, value }))
const dailies = (days: number, value: number): IndicatorRecord[] =>
  Array.from({ length: days }, (_, i) => rec({ indicator: 'energy', carrier: 'electricity', period: 'day', start: NOV + i * D, value }))

let store: ProvinceStore | undefined
afterEach(() => store?.close())

describe('the commission view from uploads', () => {
  it('computes progress, pooled NC and networking rates, energy, quality and who is behind (hand-worked)', () => {
    const cfg = config()
    store = new ProvinceStore({ path: ':memory:', timezone: TZ, lateAfterMs: 3_600_000 })
    const live = (e: string, list: IndicatorRecord[], delayMs: number): void => {
      for (const r of list) store?.storeUpload(e, [r], r.end + delayMs, `${e}${r.start}`)
    }
    // A: every quarter one minute after it ends, all days, month = Σ days.
    live('a', quarters(30, 1), 60_000)
    store.storeUpload(
      'a',
      [
        ...dailies(30, 96),
        rec({ indicator: 'energy', carrier: 'electricity', period: 'month', start: NOV, value: 2880 }),
        rec({ indicator: 'comprehensive_energy', period: 'month', start: NOV, value: 353.952, unit: 'kgce', basis: 'electricity × 0.1229 kgce/kWh' }),
        rec({ indicator: 'key_process_nc', subject: 'process/kiln', period: 'month', start: NOV, value: 1, unit: 'flag' }),
        rec({ indicator: 'key_process_nc', subject: 'process/mill', period: 'month', start: NOV, value: 0, unit: 'flag' }),
        rec({ indicator: 'equipment_online', subject: 'device/k1', period: 'month', start: NOV, value: 0.9, unit: 'share' }),
        rec({ indicator: 'equipment_online', subject: 'device/k2', period: 'month', start: NOV, value: 0.5, unit: 'share' }),
        rec({ indicator: 'unit_consumption', subject: 'product/clinker', period: 'month', start: NOV, value: 105, unit: 'kgce/t', grade: 'compliant' }),
      ],
      NOV + 30 * D,
      'r2',
    )
    // B: 27 days of quarters (90 %), the first day's received two hours after each quarter ends (late), 27 daily records.
    live('b', quarters(1, 1), 2 * 3_600_000)
    live('b', quarters(27, 1).slice(96), 60_000)
    store.storeUpload('b', dailies(27, 96), NOV + 27 * D, 'r5')
    // C: no quarters; 30 days of 3.6 kWh against a month of 100 kWh: +8 %.
    store.storeUpload(
      'c',
      [
        ...dailies(30, 3.6),
        rec({ indicator: 'energy', carrier: 'electricity', period: 'month', start: NOV, value: 100 }),
        rec({ indicator: 'key_process_nc', subject: 'process/p1', period: 'month', start: NOV, value: 1, unit: 'flag' }),
      ],
      NOV + 31 * D,
      'r6',
    )

    const range = monthRange('2026-11', NOW, TZ)
    expect(range.start).toBe(NOV)
    expect(range.end).toBe(NOV + 30 * D)
    const list = enterpriseFigures(store, new EnterpriseRegistry(cfg.enterprises), cfg, range, NOW)
    const [a, b, c] = list
    expect(a?.ncRate).toBe(0.5)
    expect(a?.networkingRate).toBeCloseTo(0.7, 12)
    expect(a?.comprehensiveEnergyTce).toBeCloseTo(0.353952, 9)
    expect(a?.quality).toMatchObject({ expected: 2880, received: 2880, late: 0, completeness: 1, timeliness: 1, missingDays: 0, missingMonthly: 0, behind: [] })
    expect(a?.quality.consistency).toEqual([{ carrier: 'electricity', deviationPct: 0, days: 30 }])
    expect(a?.meetsNcTarget).toBeNull() // the 70 % target is province-wide by default
    expect(b?.quality).toMatchObject({ expected: 2880, received: 2592, late: 96, completeness: 0.9, missingDays: 3, missingMonthly: 1 })
    expect(b?.quality.timeliness).toBeCloseTo(1 - 96 / 2592, 12)
    expect(b?.quality.behind).toEqual(['3 daily record(s) missing', '1 monthly record(s) missing'])
    expect(c?.quality.consistency[0]?.deviationPct).toBeCloseTo(8, 9)
    expect(c?.quality.behind).toEqual(['completeness 0.0 % < 90 %', 'electricity: daily vs monthly 8.0 % (limit ±5 %)'])

    const o = provinceOverview(cfg, range, list)
    expect(o.progress.recognised).toEqual({ smartFactories: 1, digitalWorkshops: 2, total: 3, progressPct: 3 })
    expect(o.progress.selfAssessment.enterprises).toBe(0) // A: NC 50 % < 70 %
    expect(o.nc.rate).toBeCloseTo(2 / 3, 12) // per key process: kiln, mill, p1
    expect(o.nc.meetsTarget).toBe(false)
    expect(o.totals.networkingRate).toBeCloseTo(0.7, 12)
    expect(o.totals.completeness).toBeCloseTo(5472 / 8640, 12)
    expect(o.totals.comprehensiveEnergyMissing).toBe(2)
    expect(o.cities.map((x) => [x.city, x.enterprises, x.behind])).toEqual([
      ['wuhan', 2, 1],
      ['xiangyang', 1, 1],
    ])
    expect(o.products).toEqual([{ product: 'clinker', unit: 'kgce/t', benchmark: 0, compliant: 1, below_baseline: 0, ungraded: 0 }])
    expect(o.behind.map((x) => x.id)).toEqual(['b', 'c'])
    expect(o.rankings.byComprehensiveEnergy).toEqual([{ rank: 1, id: 'a', name: 'A Cement', city: 'wuhan', tce: 0.353952 }])
  })

  it('holds each revision once, answers a retry as duplicates, refuses other content under the same revision, and reads the newest revision', () => {
    store = new ProvinceStore({ path: ':memory:', timezone: TZ, lateAfterMs: 3_600_000 })
    const month = rec({ indicator: 'energy', carrier: 'electricity', period: 'month', start: NOV, value: 2880 })
    expect(store.storeUpload('a', [month], NOW, 'r1')).toEqual({ stored: 1, duplicates: 0 })
    expect(store.storeUpload('a', [month], NOW, 'r2')).toEqual({ stored: 0, duplicates: 1 })
    const other = { ...month, value: 2900 }
    const fresh = rec({ indicator: 'energy', carrier: 'electricity', period: 'day', start: NOV, value: 96 })
    expect(() => store?.storeUpload('a', [fresh, other], NOW, 'r3')).toThrow(expect.objectContaining({ code: 'PROVINCE_ERR_REVISION_CONFLICT' }))
    expect(store.counts()).toEqual({ records: 1, current: 1, receipts: 2 }) // the day record of the refused upload is not half-stored
    store.storeUpload('a', [{ ...other, revision: 2 }], NOW, 'r4')
    store.storeUpload('a', [{ ...other, value: 2890, revision: 1 }], NOW, 'r5') // late arrival of an older correction
    expect(store.monthRecords(NOV).map((r) => [r.revision, r.value])).toEqual([[2, 2900]])
    expect(store.revisions('a', 'energy', 'boundary', 'electricity', 'month', NOV).map((r) => r.revision)).toEqual([0, 1, 2])
    // a 15-minute record counts once towards completeness, whichever revision arrives first
    const q = rec({ indicator: 'energy', carrier: 'electricity', period: '15m', start: NOV, value: 1 })
    store.storeUpload('a', [{ ...q, revision: 1, value: 2 }], NOV + 900_000, 'r6')
    store.storeUpload('a', [q], NOV + 900_000, 'r7')
    expect(store.quarterCounts(NOV, NOV + D)).toEqual([{ enterprise: 'a', carrier: 'electricity', day: NOV, received: 1, late: 0 }])
    expect(store.enterpriseRecords('a', NOV, NOV + D, { period: '15m' }).map((r) => [r.revision, r.value])).toEqual([[1, 2]])
  })
})
