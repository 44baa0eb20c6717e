import { describe, expect, it } from 'vitest'
import { isPlantWattError, type PlantWattError } from '../core/errors.ts'
import { parseAlertsConfig, validateAlertsConfig } from './rules.ts'

function problems(raw: unknown): { path: string; message: string }[] {
  try {
    validateAlertsConfig(raw, 'test.yaml')
  } catch (err) {
    expect(isPlantWattError(err, 'ALERTS_ERR_CONFIG')).toBe(true)
    expect((err as PlantWattError).message).toMatch(/^test\.yaml: \d+ problem\(s\)/)
    return (err as PlantWattError).details as { path: string; message: string }[]
  }
  throw new Error('expected ALERTS_ERR_CONFIG')
}

describe('alert rule config', () => {
  it('reports every problem of a config at once, each by its path', () => {
    const got = problems({
      rules: [
        { id: 'Bad Id', kind: 'threshold' },
        { id: 'r2', kind: 'nope' },
        { id: 'r3', kind: 'offline', above: 5, missed: 0 },
        { id: 'r3', kind: 'threshold', quantity: 'power_kw', above: 1, for: '5 minutes' },
        { id: 'r5', kind: 'threshold', quantity: 'active_power_kw', above: 10, below: 20, colour: 'red' },
      ],
      webhooks: [{ url: 'ftp://example.org/hook' }],
      tickMs: 5,
    })
    const paths = got.map((p) => p.path).sort()
    expect(paths).toEqual(
      [
        '/rules/0/above', // neither above nor below
        '/rules/0/id', // pattern
        '/rules/0/quantity', // required for threshold
        '/rules/1/kind', // unknown kind
        '/rules/2/above', // does not apply to offline
        '/rules/2/missed', // minimum 1
        '/rules/3/for', // not a duration
        '/rules/3/id', // duplicate of /rules/2
        '/rules/3/quantity', // unknown quantity
        '/rules/4/below', // below ≥ above
        '/rules/4/colour', // unknown key
        '/tickMs', // minimum 100
        '/webhooks/0/url', // not http(s)
      ].sort(),
    )
    expect(got.find((p) => p.path === '/rules/3/id')?.message).toContain('also used by /rules/2')
    expect(got.find((p) => p.path === '/rules/2/above')?.message).toContain('does not apply to a offline rule')
  })

  it('fills defaults per kind and converts durations to ms', () => {
    const { config, rules } = parseAlertsConfig(
      `
rules:
  - { id: power-high, kind: threshold, quantity: active_power_kw, above: 380, for: 5m }
  - { id: offline, kind: offline }
  - { id: anomaly, kind: anomaly, match: { deviceKind: meter } }
  - { id: pf, kind: power_factor }
webhooks:
  - { url: "http://127.0.0.1:9/hook" }
`,
      'alerts.yaml',
    )
    expect(rules[0]).toMatchObject({ id: 'power-high', severity: 'warning', above: 380, forMs: 300_000, clearAfterMs: 300_000, deadband: 0 })
    expect(rules[1]).toMatchObject({ intervalMs: 60_000, missed: 5, forMs: 0, clearAfterMs: 0 })
    expect(rules[2]).toMatchObject({ k: 5, windowMs: 900_000, historyMs: 28 * 86_400_000, forMs: 1_800_000, match: { deviceKind: 'meter' } })
    expect(rules[3]).toMatchObject({ below: 0.9, forMs: 900_000 })
    expect(config.webhooks[0]).toMatchObject({ timeoutMs: 5000, maxAttempts: 6, queueSize: 1000, minSeverity: 'info' })
    expect(config.pollEventsMs).toBe(2000)
    expect(config.restoreLookback).toBe('30d')
  })

  it('refuses a learning key on a later anomaly rule that differs from the first anomaly rule (it would be ignored)', () => {
    const meter = { deviceKind: 'meter' }
    const got = problems({
      rules: [
        { id: 'anomaly', kind: 'anomaly', match: meter, regimeRatio: 4 },
        { id: 'spike', kind: 'anomaly', match: meter, k: 12, regimeRatio: 5, tailFactor: 0, window: '5m', restFor: '30m' },
        { id: 'standby', kind: 'standby', match: meter, calendar: { workdays: ['mon'] } },
      ],
    })
    expect(got.map((p) => p.path)).toEqual(['/rules/1/window', '/rules/1/regimeRatio', '/rules/1/tailFactor', '/rules/2/calendar'])
    expect(got[1]?.message).toBe('regimeRatio is learned once per device, with the first anomaly rule (/rules/0, 4): set it there, or leave it out here')
    expect(got[2]?.message).toContain('(/rules/0, "default")')
    // The same value as the first (restFor 30m is the default), per-rule keys (k), and the same
    // calendar on anomaly and standby rules (what the real-data evaluation does) are fine.
    const calendar = { workdays: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], holidays: 'cn' }
    const ok = validateAlertsConfig({
      rules: [
        { id: 'a', kind: 'anomaly', calendar, regimeRatio: 4 },
        { id: 'b', kind: 'anomaly', k: 12, regimeRatio: 4, restFor: '30m', calendar },
        { id: 'c', kind: 'standby', calendar },
      ],
    })
    expect(ok.rules.map((r) => r.regimeRatio)).toEqual([4, 4, 3])
    // Without an anomaly rule the first standby rule's calendar is the detector's.
    expect(
      problems({
        rules: [
          { id: 's1', kind: 'standby' },
          { id: 's2', kind: 'standby', calendar },
        ],
      }).map((p) => p.path),
    ).toEqual(['/rules/1/calendar'])
  })

  it('reports a YAML syntax error with its position', () => {
    const err = (() => {
      try {
        parseAlertsConfig('rules: [ { id: a, kind: offline ', 'broken.yaml')
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(isPlantWattError(err, 'CORE_ERR_CONFIG')).toBe(true)
    expect((err as Error).message).toMatch(/broken\.yaml: YAML syntax error at line \d+/)
  })
})

describe('sample config', () => {
  it('alerts/alerts.example.yaml is valid', async () => {
    const { readFileSync } = await import('node:fs')
    const text = readFileSync(new URL('./alerts.example.yaml', import.meta.url), 'utf8')
    const { rules, config } = parseAlertsConfig(text, 'alerts.example.yaml')
    expect(rules.map((r) => r.kind).sort()).toEqual([
      'anomaly',
      'anomaly',
      'counter',
      'demand',
      'offline',
      'power_factor',
      'rate',
      'standby',
      'stuck',
      'threshold',
    ])
    expect(config.webhooks).toHaveLength(1)
  })
})
