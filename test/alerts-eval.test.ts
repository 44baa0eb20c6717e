import { describe, expect, it } from 'vitest'
import type { FaultRecord } from '../simulators/faults.ts'
import type { Alert } from '../alerts/engine.ts'
import { CLAIMED, runEvaluation, score, strictScore } from '../bench/alerts-eval.ts'

/**
 * A shortened `npm run eval:alerts`: the Xiangyang auto-parts enterprise of the hubei scenario (two
 * shift lines, 10 devices), one week to learn from, two fault-free days, five days with one fault of
 * every claimed kind. The figures must meet the targets: this fails when detection regresses.
 */

const HOUR = 3_600_000
const T = Date.UTC(2026, 0, 20)

function alert(device: string, rule: string, ruleKind: Alert['ruleKind'], openedAt: number): Alert {
  const [enterprise, site, line, dev] = device.split('/') as [string, string, string, string]
  return {
    id: `${openedAt.toString(36)}-${rule}`,
    rule,
    ruleKind,
    severity: 'warning',
    address: { enterprise, site, line, device: dev },
    quantity: 'active_power_kw',
    state: 'firing',
    openedAt,
    value: 0,
  }
}
const fault = (id: number, device: string, kind: FaultRecord['kind'], start: number, end: number | null): FaultRecord => ({
  id,
  device,
  kind,
  start,
  end,
  parameters: {},
})

describe('alert evaluation scoring', () => {
  it('counts a sub-meter load fault seen on the main meter, and charges unmatched alerts to the kinds their rule claims', () => {
    const faults = [
      fault(1, 'e/s/l/pump', 'step', T, T + 2 * HOUR),
      fault(2, 'e/s/l/fan', 'offline', T + 10 * HOUR, T + 11 * HOUR),
      fault(3, 'e/s/l/fan', 'stuck', T + 20 * HOUR, T + 21 * HOUR),
    ]
    const alerts = [
      alert('e/s/l/pump', 'anomaly', 'anomaly', T + 30 * 60_000), // step, 30 min
      alert('e/s/l/main', 'anomaly', 'anomaly', T + 45 * 60_000), // step seen on the main meter
      alert('e/s/l/fan', 'offline', 'offline', T + 10 * HOUR + 5 * 60_000), // offline, 5 min
      alert('e/s/l/pump', 'anomaly', 'anomaly', T + 40 * HOUR), // nothing there: false positive
    ]
    const { claimed, unmatched } = score(alerts, faults)
    expect(unmatched.map((a) => a.openedAt)).toEqual([T + 40 * HOUR])
    // step: 2 alerts matched, 1 unmatched anomaly alert (anomaly claims step) → precision 2/3.
    expect(claimed.step).toMatchObject({ faults: 1, detected: 1, recall: 1, truePositives: 2, falsePositives: 1, medianDelayMin: 30 })
    expect(claimed.step?.precision).toBeCloseTo(2 / 3, 10)
    expect(claimed.offline).toMatchObject({ faults: 1, detected: 1, precision: 1, medianDelayMin: 5 })
    // stuck: not detected (the anomaly alert on the pump is not on the fan) → recall 0.
    expect(claimed.stuck).toMatchObject({ faults: 1, detected: 0, recall: 0, medianDelayMin: null })
    expect(Object.keys(CLAIMED).sort()).toEqual(['counter_reset', 'drift', 'offline', 'spike', 'standby', 'step', 'stuck'])
  })
})

describe('strict scoring', () => {
  it('credits a fault only to an alert of a rule that claims its kind; precision counts every alert', () => {
    const faults = [fault(1, 'e/s/l/pump', 'step', T, T + 2 * HOUR), fault(2, 'e/s/l/fan', 'offline', T + 10 * HOUR, T + 11 * HOUR)]
    const alerts = [
      alert('e/s/l/pump', 'offline', 'offline', T + 20 * 60_000), // an offline alert during a step: not a detection
      alert('e/s/l/fan', 'offline', 'offline', T + 10 * HOUR + 5 * 60_000),
      alert('e/s/l/fan', 'value-stuck', 'stuck', T + 10 * HOUR + 6 * 60_000), // stuck does not claim offline
    ]
    const lenient = score(alerts, faults)
    const strict = strictScore(alerts, faults)
    expect(lenient.claimed.step?.detected).toBe(1)
    expect(strict.claimed.step).toMatchObject({ faults: 1, detected: 0, recall: 0 })
    expect(strict.claimed.offline).toMatchObject({ detected: 1, medianDelayMin: 5 })
    expect([...strict.detected]).toEqual([2])
    expect(strict.precision).toBeCloseTo(1 / 3, 10)
  })
})

describe('shortened evaluation on the hubei scenario', () => {
  it('meets precision ≥ 0.9 and recall ≥ 0.9 on every claimed kind, and gives no alert on the fault-free days', async () => {
    const r = await runEvaluation({ learnDays: 7, cleanDays: 2, faultDays: 5, faultsPerKind: 1, enterprises: ['hanjiang-autoparts'] })
    expect(r.cleanPeriod).toEqual({ alerts: 0, byRule: {} })
    for (const [kind, k] of Object.entries(r.claimed)) {
      expect({ kind, faults: k.faults > 0 }).toEqual({ kind, faults: true })
      expect({ kind, recall: k.recall >= 0.9 }).toEqual({ kind, recall: true })
      expect({ kind, precision: k.precision >= 0.9 }).toEqual({ kind, precision: true })
    }
    expect(r.pass).toBe(true)
  }, 180_000)
})
