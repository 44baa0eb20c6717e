import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openScenarioFaults, resumeMarks } from './scenario-faults.ts'
import { parseScenario } from './schema.ts'

const scenario = parseScenario({
  name: 'faults',
  seed: 9,
  enterprises: [
    {
      id: 'ent',
      sites: [
        {
          id: 'site',
          lines: [
            {
              id: 'kiln',
              loadShape: 'continuous',
              ratedKw: 1000,
              lossFraction: 0.05,
              product: { id: 'clinker', unit: 't', benchmark: 'clinker-electricity', secTarget: 'benchmark' },
              productionDevice: 'dcs',
              mainMeter: { id: 'main' },
              subMeters: [{ id: 'mill', share: 0.95 }],
            },
          ],
        },
      ],
    },
  ],
  faults: [
    { device: 'ent/site/kiln/mill', kind: 'step', start: '2026-01-05T10:00:00+08:00', end: '2026-01-05T12:00:00+08:00', deltaKw: 100 },
    { device: 'ent/site/kiln/main', kind: 'counter_reset', start: '2026-01-06T00:00:00+08:00' },
  ],
})

describe('openScenarioFaults', () => {
  it("injects the scenario's faults in file order", () => {
    const faults = openScenarioFaults(scenario)
    expect(faults.list().map((f) => [f.id, f.device, f.kind, f.start, f.end, f.parameters])).toEqual([
      [1, 'ent/site/kiln/mill', 'step', Date.UTC(2026, 0, 5, 2), Date.UTC(2026, 0, 5, 4), { deltaKw: 100 }],
      [2, 'ent/site/kiln/main', 'counter_reset', Date.UTC(2026, 0, 5, 16), null, {}],
    ])
    expect(faults.extraLoadKw('ent/site/kiln/mill', Date.UTC(2026, 0, 5, 3))).toBe(100)
  })

  it('empties the ground-truth file, then writes one line per fault', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-scenario-faults-'))
    try {
      const file = join(dir, 'truth.jsonl')
      writeFileSync(file, 'left from an earlier run\n')
      openScenarioFaults(scenario, file)
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: number; kind: string; startIso: string })
      expect(lines.map((l) => [l.id, l.kind, l.startIso])).toEqual([
        [1, 'step', '2026-01-05T02:00:00.000Z'],
        [2, 'counter_reset', '2026-01-05T16:00:00.000Z'],
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('resumeMarks', () => {
  it('marks devices continued from a reading with the instant they were resumed', () => {
    const resumed = resumeMarks(new Map([['ent/site/kiln/main', { energy_import_kwh: 5 }]]), 1234)
    expect(resumed('ent/site/kiln/main')).toEqual({ resumedAt: 1234 })
    expect(resumed('ent/site/kiln/mill')).toEqual({})
  })
})
