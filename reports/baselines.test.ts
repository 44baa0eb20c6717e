import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { createEmbeddedStore, type TelemetryStore } from '../storage/index.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
import { MemoryEventLog, type EventLog } from '../storage/events.ts'
import { BASELINE_EVENT_KIND, baselineHistory, lineOfScope, periodWindows, recordBaseline, savingsReport } from './baselines.ts'
import { D0, DAY, PLANT, efficiencyData } from './testing/efficiency-fixtures.ts'
import type { ReportDeps } from './energy.ts'
import { parseScope } from './scope.ts'

let dir: string
let store: TelemetryStore
let events: EventLog
let deps: ReportDeps & { events: EventLog }
const l1 = parseScope('acme/w1/l1')
const l2 = parseScope('acme/w1/l2')

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-baselines-'))
  store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
  events = createEmbeddedEventLog({ path: join(dir, 'plantwatt.db') })
  await store.write(efficiencyData())
  deps = { store, model: PLANT, now: () => D0 + 40 * DAY, events }
})

afterAll(async () => {
  await store?.close()
  await events?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('periods', () => {
  it('keeps only full local days or Monday weeks inside the range', () => {
    // From 12:00 on day 0 to 12:00 on day 3: full days 1 and 2 only.
    const days = periodWindows({ start: D0 + DAY / 2, end: D0 + 3 * DAY + DAY / 2 }, 'day', 'Asia/Shanghai')
    expect(days.map((d) => [d.label, d.start - D0])).toEqual([
      ['2026-03-03', DAY],
      ['2026-03-04', 2 * DAY],
    ])
    // Day 1 (Tuesday) to day 20 (Sunday): one full week, Monday 2026-03-09 to Monday 03-16.
    const weeks = periodWindows({ start: D0 + DAY, end: D0 + 20 * DAY }, 'week', 'Asia/Shanghai')
    expect(weeks.map((w) => [w.label, w.start - D0, w.end - D0])).toEqual([['2026-03-09', 7 * DAY, 14 * DAY]])
  })
})

describe('baselines and savings (embedded store)', () => {
  it('fits energy = 200 + 0.5 × production over 14 days and records revision 1', async () => {
    const fit = await recordBaseline(deps, l1, {
      baselineStart: D0,
      baselineStop: D0 + 14 * DAY,
      variables: ['production'],
      period: 'day',
      reason: 'first baseline',
      user: 'eng1',
    })
    const m = fit.revision.model
    expect(m.intercept.value).toBeCloseTo(200, 6)
    expect(m.coefficients[0]?.value).toBeCloseTo(0.5, 9)
    expect(m.r2).toBeCloseTo(1, 9)
    expect(m.cvRmse).toBeLessThan(1e-6)
    expect(m.n).toBe(14)
    // 14 ≥ 3 × 2 parameters, |t| huge: valid.
    expect(m.validity).toMatchObject({ valid: true, reasons: [] })
    expect(fit.revision).toMatchObject({ revision: 1, reason: 'first baseline', user: 'eng1', at: D0 + 14 * DAY, line: 'acme/w1/l1' })
    expect(fit.revision.spec).toMatchObject({ period: 'day', variables: ['production'], idleKw: null })
    // Day 0: 1000 pcs → 700 kWh.
    expect(fit.observations[0]).toMatchObject({ period: '2026-03-02', variables: { production: expect.closeTo(1000, 6) } })
    expect(fit.observations[0]?.energyKwh).toBeCloseTo(700, 6)
    expect(fit.excluded).toEqual([])
    const stored = await events.query({ kind: BASELINE_EVENT_KIND, filter: { enterprise: 'acme', site: 'w1', line: 'l1' } })
    expect(stored).toHaveLength(1)
    expect(stored[0]?.fields).toMatchObject({ revision: 1, reason: 'first baseline', user: 'eng1', effective_from: D0 + 14 * DAY })
    expect(JSON.parse(String(stored[0]?.fields.model)).variables).toEqual(['production'])
  })

  it('savings over 7 reporting days with 10 % less energy: savings 10 % of predicted, CUSUM by hand', async () => {
    const r = await savingsReport(deps, l1, { start: D0 + 14 * DAY, end: D0 + 21 * DAY })
    // Production 1000, 1200, 800, 1400, 1000, 600, 1600 → predicted 200 + 0.5 x = 700, 800, 600, 900, 700, 500, 1000;
    // actual 0.9 × predicted; savings 70, 80, 60, 90, 70, 50, 100; CUSUM 70, 150, 210, 300, 370, 420, 520.
    expect(r.rows.map((x) => x.revision)).toEqual([1, 1, 1, 1, 1, 1, 1])
    const close = (xs: number[], ys: number[]) => {
      xs.forEach((x, i) => {
        expect(x).toBeCloseTo(ys[i] as number, 6)
      })
    }
    close(
      r.rows.map((x) => x.predicted),
      [700, 800, 600, 900, 700, 500, 1000],
    )
    close(
      r.rows.map((x) => x.actual),
      [630, 720, 540, 810, 630, 450, 900],
    )
    close(
      r.rows.map((x) => x.savings),
      [70, 80, 60, 90, 70, 50, 100],
    )
    close(
      r.rows.map((x) => x.cusum),
      [70, 150, 210, 300, 370, 420, 520],
    )
    close(
      r.rows.map((x) => x.enpi as number),
      [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
    )
    expect(r.totalPredicted).toBeCloseTo(5200, 6)
    expect(r.totalActual).toBeCloseTo(4680, 6)
    expect(r.totalSavings).toBeCloseTo(520, 6)
    expect(r.savingsShare).toBeCloseTo(0.1, 9)
    expect(r).toMatchObject({ modelValid: true, revisions: [1], period: 'day', excluded: [] })
  })

  it('uses the revision in force at each period: revision 2 from day 17 predicts the new level', async () => {
    // Fitted on the reporting days: energy = 0.9 × (200 + 0.5 x) = 180 + 0.45 x exactly.
    const fit = await recordBaseline(deps, l1, {
      baselineStart: D0 + 14 * DAY,
      baselineStop: D0 + 21 * DAY,
      variables: ['production'],
      period: 'day',
      reason: 'compressor replaced (static factor)',
      user: 'eng2',
      effectiveFrom: D0 + 17 * DAY,
    })
    expect(fit.revision).toMatchObject({ revision: 2, supersedes: 1, at: D0 + 17 * DAY })
    expect(fit.revision.model.intercept.value).toBeCloseTo(180, 6)
    expect(fit.revision.model.coefficients[0]?.value).toBeCloseTo(0.45, 9)
    const r = await savingsReport(deps, l1, { start: D0 + 14 * DAY, end: D0 + 21 * DAY })
    expect(r.rows.map((x) => x.revision)).toEqual([1, 1, 1, 2, 2, 2, 2])
    // Days 14..16 as before (70, 80, 60); from day 17 predicted = actual: savings 0, CUSUM stays 210.
    r.rows
      .map((x) => x.cusum)
      .forEach((c, i) => {
        expect(c).toBeCloseTo([70, 150, 210, 210, 210, 210, 210][i] as number, 6)
      })
    expect(r.revisions).toEqual([1, 2])
    const history = await baselineHistory(events, lineOfScope(deps, l1))
    expect(history.map((h) => [h.revision, h.reason, h.user])).toEqual([
      [1, 'first baseline', 'eng1'],
      [2, 'compressor replaced (static factor)', 'eng2'],
    ])
    expect(history[1]?.recordedAt).toBeGreaterThan(history[0]?.recordedAt as number)
  })

  it('rejects a revision taking effect before the one in force, and a range before any baseline', async () => {
    const early = await recordBaseline(deps, l1, {
      baselineStart: D0,
      baselineStop: D0 + 14 * DAY,
      variables: ['production'],
      period: 'day',
      reason: 'again',
      user: 'x',
    }).catch((e: unknown) => e)
    expect(isPlantWattError(early, 'ANALYTICS_ERR_INPUT')).toBe(true)
    const before = await savingsReport(deps, l1, { start: D0, end: D0 + 7 * DAY }).catch((e: unknown) => e)
    expect(isPlantWattError(before, 'REPORTS_ERR_INPUT')).toBe(true)
    expect((before as Error).message).toMatch(/no baseline of line acme\/w1\/l1 is in force/)
  })

  it('operating hours (mean power above the idle level) as the variable: 120 kWh + 45 kWh per operating hour', async () => {
    const fit = await recordBaseline(deps, l2, {
      baselineStart: D0,
      baselineStop: D0 + 14 * DAY,
      variables: ['operating_hours'],
      period: 'day',
      reason: 'hours model',
      user: 'eng1',
    })
    // Hourly means are 5 or 50 kW; P95 = 50 → default idle 0.2 × 50 = 10 kW; day 0 runs 4 h.
    expect(fit.revision.spec.idleKw).toBeCloseTo(10, 9)
    expect(fit.observations[0]?.variables.operating_hours).toBe(4)
    expect(fit.revision.model.intercept.value).toBeCloseTo(120, 6)
    expect(fit.revision.model.coefficients[0]?.value).toBeCloseTo(45, 6)
    // Reporting day 14 runs 7 h: 120 + 45 × 7 = 435 kWh, as predicted: savings 0.
    const r = await savingsReport(deps, l2, { start: D0 + 14 * DAY, end: D0 + 15 * DAY })
    expect(r.rows[0]?.operatingHours).toBe(7)
    expect(r.rows[0]?.predicted).toBeCloseTo(435, 6)
    expect(r.rows[0]?.savings).toBeCloseTo(0, 6)
  })

  it('per week: 3 weeks fit 840 + 45 h exactly but fail validity (3 observations < 6)', async () => {
    // Revision 2 of l2, in force from day 30 (after revision 1).
    const fit = await recordBaseline(deps, l2, {
      baselineStart: D0,
      baselineStop: D0 + 21 * DAY,
      variables: ['operating_hours'],
      period: 'week',
      reason: 'weekly model',
      user: 'eng1',
      idleKw: 10,
      effectiveFrom: D0 + 30 * DAY,
    })
    // Weekly hours 76, 91, 85 → energy 4260, 4935, 4665.
    expect(fit.observations.map((o) => [o.period, o.variables.operating_hours, Math.round(o.energyKwh)])).toEqual([
      ['2026-03-02', 76, 4260],
      ['2026-03-09', 91, 4935],
      ['2026-03-16', 85, 4665],
    ])
    expect(fit.revision.model.intercept.value).toBeCloseTo(840, 5)
    expect(fit.revision.model.validity.valid).toBe(false)
    expect(fit.revision.model.validity.reasons).toContain('3 observations < 3 per parameter (6)')
  })

  it('numbers concurrent recordings on one line one after the other', async () => {
    const log = new MemoryEventLog()
    const request = { baselineStart: D0, baselineStop: D0 + 14 * DAY, variables: ['operating_hours'] as const, period: 'day' as const, user: 'x' }
    const [a, b] = await Promise.all([
      recordBaseline({ ...deps, events: log }, l2, { ...request, reason: 'a' }),
      recordBaseline({ ...deps, events: log }, l2, { ...request, reason: 'b' }),
    ])
    expect([a.revision.revision, b.revision.revision]).toEqual([1, 2])
    expect(b.revision.supersedes).toBe(1)
    expect((await log.query({ kind: BASELINE_EVENT_KIND })).map((e) => e.fields.reason)).toEqual(['a', 'b'])
  })

  it('leaves out periods without data and refuses what cannot be fitted', async () => {
    // Days 18..27: data until day 21 only; days 21..27 (no data) are excluded; 3 observations left.
    const fit = await recordBaseline(deps, parseScope('acme/w1/l1'), {
      baselineStart: D0 + 18 * DAY,
      baselineStop: D0 + 28 * DAY,
      variables: ['production'],
      period: 'day',
      reason: 'short',
      user: 'x',
      effectiveFrom: D0 + 40 * DAY,
    })
    expect(fit.observations).toHaveLength(3)
    expect(fit.excluded).toHaveLength(7)
    expect(fit.excluded[0]?.reason).toMatch(/energy data covers 0\.0 %/)
    const noProduct = await recordBaseline(deps, parseScope('acme/w1/l3'), {
      baselineStart: D0,
      baselineStop: D0 + 14 * DAY,
      variables: ['production'],
      period: 'day',
      reason: 'r',
      user: 'x',
    }).catch((e: unknown) => e)
    expect(isPlantWattError(noProduct, 'REPORTS_ERR_INPUT')).toBe(true)
    const notLine = await recordBaseline(deps, parseScope('acme/w1'), {
      baselineStart: D0,
      baselineStop: D0 + 14 * DAY,
      variables: ['production'],
      period: 'day',
      reason: 'r',
      user: 'x',
    }).catch((e: unknown) => e)
    expect(isPlantWattError(notLine, 'REPORTS_ERR_INPUT')).toBe(true)
    const unknown = await savingsReport(deps, parseScope('acme/w1/nope'), { start: D0, end: D0 + DAY }).catch((e: unknown) => e)
    expect(isPlantWattError(unknown, 'REPORTS_ERR_SCOPE')).toBe(true)
    // l1's power is flat within each day: every hour is above the idle level, 24 h every day.
    const constant = await recordBaseline(deps, l1, {
      baselineStart: D0,
      baselineStop: D0 + 14 * DAY,
      variables: ['operating_hours'],
      period: 'day',
      reason: 'r',
      user: 'x',
    }).catch((e: unknown) => e)
    expect(isPlantWattError(constant, 'ANALYTICS_ERR_REGRESSION')).toBe(true)
    expect((constant as Error).message).toBe('variable operating_hours is 24 in every one of the 14 baseline periods: it explains nothing, leave it out')
    // Two days only: a 1-variable model needs 3 observations.
    const tooFew = await recordBaseline(deps, parseScope('acme/w1/l3'), {
      baselineStart: D0,
      baselineStop: D0 + 2 * DAY,
      variables: ['operating_hours'],
      period: 'day',
      reason: 'r',
      user: 'x',
    }).catch((e: unknown) => e)
    expect(isPlantWattError(tooFew)).toBe(true)
  })
})
