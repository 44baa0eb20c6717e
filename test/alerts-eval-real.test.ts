import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { realRules, rulesWithSettings, runRealEvaluation, uciPath } from '../bench/alerts-eval-real.ts'

/**
 * The real-data evaluation (bench/alerts-eval-real.ts) on the UCI steel 2018 file: learn from the
 * first half, replay the second half clean and with injected faults, score strictly. Shortened to
 * two faults per variant. Asserts the targets of issue 17 the engine meets (device faults, ≤ 1 false
 * alarm per device-week) and, for the one it does not meet yet (load recall ≥ 0.8 — see
 * alerts/README.md), a floor at today's measured level so a regression fails.
 */
describe('real-data alert evaluation (UCI steel 2018)', () => {
  it('finds the data beside the checkout', () => {
    expect(existsSync(uciPath())).toBe(true)
  })

  it('detects offline, stuck and counter faults (strict recall ≥ 0.95); load faults and clean-week false alarms not worse than measured', async () => {
    const r = await runRealEvaluation({ faultsPerVariant: 2, seed: 7 })
    // Every variant was injected.
    expect(Object.values(r.strict.byVariant).every((v) => v.faults >= 1)).toBe(true)
    expect(Object.keys(r.strict.byVariant).length).toBe(9)
    expect(r.recall.device).toBeGreaterThanOrEqual(0.95)
    expect(r.targets.deviceRecall).toBe(true)
    // Standby waste at night and on days off: idle is where the detector is sharp.
    expect(r.strict.byKind.standby?.recall).toBeGreaterThanOrEqual(0.75)
    // At most 1 false alarm per device-week on the clean half (measured 0.81: 21 alerts in 26
    // device-weeks); a floor at the measured level below the unmet load-recall target (0.8; measured
    // 8/12 = 0.67 with these two faults per variant, 0.58 before the unexpected-start check).
    expect(r.clean.falseAlarmsPerDeviceWeek).toBeLessThanOrEqual(1)
    expect(r.targets.falseAlarms).toBe(true)
    expect(r.recall.load).toBeGreaterThanOrEqual(0.66)
    // Every load fault not caught is listed once, with the plant's own load under it.
    const loadFaults = ['step', 'spike', 'drift', 'standby'].reduce((n, k) => n + (r.strict.byKind[k]?.faults ?? 0), 0)
    expect(r.missed.length).toBe(Math.round((1 - r.recall.load) * loadFaults))
    for (const m of r.missed) {
      expect(['step_up', 'step_down', 'spike', 'drift', 'standby_night', 'standby_dayoff']).toContain(m.variant)
      expect(m.medianLoadKw).toBeGreaterThan(0)
      expect(m.start < m.end).toBe(true)
    }
    // The strict scorer never credits an alert of a rule that does not claim the kind.
    expect(r.strict.matchedAlerts).toBeLessThanOrEqual(r.strict.alerts)
    expect(r.strict.precision).toBeCloseTo(r.strict.matchedAlerts / r.strict.alerts, 10)
  }, 120_000)

  it('--set changes one key of one rule (JSON values, else text) and refuses unknown rules and malformed settings', () => {
    const rules = rulesWithSettings(['power-anomaly.k=3', 'power-anomaly.lowerRegimeNormal=false', 'value-stuck.for=1h'])
    const byId = new Map(rules.map((r) => [r.id, r]))
    expect(byId.get('power-anomaly')?.k).toBe(3)
    expect(byId.get('power-anomaly')?.lowerRegimeNormal).toBe(false)
    expect(byId.get('value-stuck')?.for).toBe('1h')
    // Everything else as realRules() has it, and realRules() itself untouched.
    expect(byId.get('power-spike')).toEqual(realRules().find((r) => r.id === 'power-spike'))
    expect(realRules().find((r) => r.id === 'power-anomaly')?.k).toBe(5)
    expect(() => rulesWithSettings(['power-anomly.k=3'])).toThrow(/no rule power-anomly/)
    expect(() => rulesWithSettings(['power-anomaly=3'])).toThrow(/expected <rule id>\.<key>=<value>/)
  })
})
