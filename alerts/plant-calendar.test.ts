import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryPoint } from '../storage/store.ts'
import { learnBaselines, calendarSlot } from './baseline.ts'
import { validateAlertsConfig } from './rules.ts'

const DAY = 86_400_000
const QUARTER = 900_000
/** Monday 2026-01-05 00:00 in Shanghai. */
const START = Date.UTC(2026, 0, 4, 16)
const WEEKS = 3

function plant(calendar?: Record<string, unknown>): PlantModel {
  return validateConfig(PlantModelSchema, {
    timezone: 'Asia/Shanghai',
    enterprises: [
      {
        id: 'acme',
        ...(calendar ? { calendar } : {}),
        sites: [{ id: 'wuhan', lines: [{ id: 'press', mainMeter: 'm1', devices: [{ id: 'm1', kind: 'meter' }] }] }],
      },
    ],
  })
}

/** Three weeks of 15-minute power: 200 kW from 08:00 to 18:00 Monday–Friday, 10 kW otherwise. */
function history(): TelemetryPoint[] {
  const out: TelemetryPoint[] = []
  for (let t = START; t < START + WEEKS * 7 * DAY; t += QUARTER) {
    const local = new Date(t + 8 * 3_600_000)
    const weekday = (local.getUTCDay() + 6) % 7
    const hour = local.getUTCHours()
    const kw = weekday < 5 && hour >= 8 && hour < 18 ? 200 : 10
    out.push({ measurement: 'telemetry', tags: { enterprise: 'acme', site: 'wuhan', line: 'press', device: 'm1' }, fields: { active_power_kw: kw }, ts: t })
  }
  return out
}

async function learn(model: PlantModel, ruleCalendar?: Record<string, unknown>) {
  const store = createEmbeddedStore({ path: ':memory:' })
  try {
    await store.write(history())
    const { rules } = validateAlertsConfig(
      { rules: [{ id: 'a', kind: 'anomaly', match: { deviceKind: 'meter' }, history: '3w', ...(ruleCalendar ? { calendar: ruleCalendar } : {}) }] },
      'test',
    )
    const book = await learnBaselines({ store, plant: model, rules, now: START + WEEKS * 7 * DAY })
    return book.anomaly.get('acme/wuhan/press/m1')
  } finally {
    await store.close()
  }
}

describe('the working calendar from the plant model', () => {
  it("is the baseline's calendar when the rule has none: weekends and the enterprise's own day off learn apart from working days", async () => {
    const b = await learn(plant({ workdays: ['mon', 'tue', 'wed', 'thu', 'fri'], nonWorkingDays: ['2026-01-14'] }))
    expect(b?.calendar?.hasDaysOff).toBe(true)
    // Wednesday 2026-01-14 10:00 is a day off: it shares the days-off slots, not Wednesday's
    const wed = Date.UTC(2026, 0, 14, 2)
    const slotMs = b?.slotMs ?? QUARTER
    const perDay = DAY / slotMs
    expect(calendarSlot(wed, 'Asia/Shanghai', slotMs, b?.calendar, 'press')).toBe(7 * perDay + 40)
    expect(calendarSlot(wed - 7 * DAY, 'Asia/Shanghai', slotMs, b?.calendar, 'press')).toBe(2 * perDay + 40)
  })

  it('without one (model or rule) every day is alike', async () => {
    const b = await learn(plant())
    expect(b?.calendar).toBeUndefined()
  })

  it("a rule's own calendar replaces the enterprise's", async () => {
    const b = await learn(plant({ workdays: ['mon', 'tue', 'wed', 'thu', 'fri'] }), {
      workdays: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
      nonWorkingDays: ['2026-01-07'],
    })
    expect(b?.calendar?.isWorkingDay(Date.UTC(2026, 0, 10, 2), 'press')).toBe(true) // Saturday works by the rule's calendar
    expect(b?.calendar?.isWorkingDay(Date.UTC(2026, 0, 7, 2), 'press')).toBe(false)
  })

  it('warns, naming the year and the update, when chinese-days does not know a year the detector judges', async () => {
    const calendar = { workdays: ['mon', 'tue', 'wed', 'thu', 'fri'], holidays: 'cn' }
    const store = createEmbeddedStore({ path: ':memory:' })
    try {
      // The same three weeks, moved to end on Monday 2026-12-28: the next week reaches into 2027.
      const shift = Date.UTC(2026, 11, 27, 16) - (START + WEEKS * 7 * DAY)
      await store.write(history().map((p) => ({ ...p, ts: p.ts + shift })))
      const { rules } = validateAlertsConfig({ rules: [{ id: 'a', kind: 'anomaly', match: { deviceKind: 'meter' }, history: '3w' }] }, 'test')
      const late = await learnBaselines({ store, plant: plant(calendar), rules, now: Date.UTC(2026, 11, 27, 16) })
      expect(late.warnings).toHaveLength(1)
      expect(late.warnings?.[0]).toContain('no public holidays for 2027')
      expect(late.warnings?.[0]).toContain('npm install chinese-days@latest')
      expect(late.warnings?.[0]).toContain('nonWorkingDays')
      // Learned a month earlier: every day it judges is in 2026, which the package has.
      const early = await learnBaselines({ store, plant: plant(calendar), rules, now: Date.UTC(2026, 10, 30, 16) })
      expect(early.warnings).toBeUndefined()
    } finally {
      await store.close()
    }
  })

  it('is validated with the plant model: an unknown weekday is a config error naming the path', () => {
    expect(() => plant({ workdays: ['mon', 'funday'] })).toThrow(/enterprises\/0\/calendar\/workdays/)
  })
})
