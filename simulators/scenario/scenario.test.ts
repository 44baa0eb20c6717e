import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { validateConfig, type ConfigProblem } from '../../core/config.ts'
import { PlantWattError } from '../../core/errors.ts'
import { listPlantDevices, PlantModelSchema } from '../../core/plant.ts'
import { FaultBook } from '../faults.ts'
import { interpolateSlots, loadLoadShape } from '../load-shape.ts'
import { localMinuteOfWeek } from '../load.ts'
import { buildScenarioModel, scenarioDeviceKeys, scenarioPlantModel } from './model.ts'
import { loadScenario, parseScenario, type Scenario } from './schema.ts'

function problemsOf(fn: () => unknown): ConfigProblem[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof PlantWattError && err.code === 'SIM_ERR_SCENARIO') return err.details as ConfigProblem[]
    throw err
  }
  throw new Error('expected SIM_ERR_SCENARIO')
}

const line = (over: Record<string, unknown> = {}) => ({
  id: 'l1',
  loadShape: 'continuous',
  ratedKw: 100,
  lossFraction: 0.05,
  product: { id: 'p', unit: 't', secTarget: 10 },
  productionDevice: 'plc',
  mainMeter: { id: 'main' },
  subMeters: [{ id: 's1', share: 0.95 }],
  ...over,
})
const scenario = (lines: unknown[], over: Record<string, unknown> = {}) => ({ name: 't', enterprises: [{ id: 'e', sites: [{ id: 's', lines }] }], ...over })

describe('the shipped hubei scenario', () => {
  const s = loadScenario('hubei')
  const model = buildScenarioModel(s, new FaultBook({ timezone: s.timezone, seed: s.seed, devices: scenarioDeviceKeys(s) }))

  it('has a cement plant, a steel plant and an auto-parts plant in three Hubei cities', () => {
    expect(s.enterprises.map((e) => e.industry)).toEqual(['cement', 'steel', 'auto-parts'])
    const cities = s.enterprises.map((e) => e.sites[0]!.city)
    expect(cities).toEqual(['黄石 Huangshi', '武汉 Wuhan', '襄阳 Xiangyang'])
    for (const e of s.enterprises)
      for (const site of e.sites)
        for (const l of site.lines) {
          // Sub-meters measure less than the main meter; their shares and the losses make it whole.
          const shares = l.subMeters.reduce((a, m) => a + m.share, 0)
          expect(shares).toBeLessThan(1)
          expect(shares + l.lossFraction).toBeCloseTo(1, 9)
          expect(l.shifts.length > 0 || l.loadShape !== 'shifts').toBe(true)
        }
  })

  it('places lines in all three grades against the DOMAIN.md levels', () => {
    const sec = Object.fromEntries(model.production.map((p) => [p.key.split('/').slice(0, 3).join('/'), p.secKwhPerUnit]))
    // Clinker electricity, GB 16780-2021: level 1 = 48, level 3 = 61 kWh/t.
    const c1 = sec['edong-cement/huangshi/clinker-1']!
    expect(c1).toBeGreaterThan(48)
    expect(c1).toBeLessThanOrEqual(61)
    expect(sec['edong-cement/huangshi/clinker-2']).toBeGreaterThan(61)
    // EAF ≥ 70 t: level 1 = 61 kgce/t; electricity at the equivalent value 0.1229 kgce/kWh.
    expect(sec['jiangcheng-steel/qingshan/eaf-1']! * 0.1229).toBeLessThanOrEqual(61)
    expect(sec['jiangcheng-steel/qingshan/bar-mill-1']).toBe(118)
    expect(sec['hanjiang-autoparts/xiangyang/brake-disc']).toBe(2.4)
  })

  it('produces a plant model that core/plant.ts accepts, with main meters, key equipment and NC flags', () => {
    const plant = validateConfig(PlantModelSchema, scenarioPlantModel(s), 'hubei plant model')
    const devices = listPlantDevices(plant)
    expect(devices.length).toBe(model.meters.length + model.production.length + 6) // 6 machines
    const mains = devices.filter((d) => d.mainMeter)
    expect(mains.length).toBe(7)
    expect(mains.every((d) => d.device === 'main' && d.kind === 'meter')).toBe(true)
    const key = devices.filter((d) => d.keyEquipment)
    const nc = key.filter((d) => d.ncCapable)
    expect(key.length).toBeGreaterThan(10)
    expect(nc.length / key.length).toBeGreaterThan(0.5)
    expect(nc.length / key.length).toBeLessThan(0.9)
    expect(devices.find((d) => d.device === 'cnc-01')?.kind).toBe('machine')
    expect(devices.find((d) => d.device === 'kiln-dcs')?.kind).toBe('plc')
  })

  it('drives the steel lines with the shipped UCI steel-plant week', () => {
    const shape = loadLoadShape()
    const eaf = model.meters.find((m) => m.key === 'jiangcheng-steel/qingshan/eaf-1/main')!
    const monday = Date.UTC(2026, 0, 4, 16, 0) // Monday 00:00 Shanghai
    const xs: number[] = []
    const ys: number[] = []
    for (let h = 0; h < 168; h++) {
      let p = 0
      for (let k = 0; k < 60; k++) p += eaf.powerKw(monday + h * 3_600_000 + k * 60_000)
      xs.push(p / 60)
      let sh = 0
      for (let k = 0; k < 60; k++) sh += interpolateSlots(shape.power, localMinuteOfWeek(monday + h * 3_600_000 + k * 60_000, 8 * 3_600_000))
      ys.push(sh / 60)
    }
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length
    const mx = mean(xs)
    const my = mean(ys)
    let sxy = 0,
      sxx = 0,
      syy = 0
    for (let i = 0; i < xs.length; i++) {
      sxy += (xs[i]! - mx) * (ys[i]! - my)
      sxx += (xs[i]! - mx) ** 2
      syy += (ys[i]! - my) ** 2
    }
    expect(sxy / Math.sqrt(sxx * syy)).toBeGreaterThan(0.98)
    // 60 MW at shape 1.0: the mean of the week is 60 MW × the shape's mean (within the noise).
    expect(Math.abs(mx / (60_000 * my) - 1)).toBeLessThan(0.02)
  })
})

describe('scenario validation', () => {
  it('reports every schema problem at once, with its path', () => {
    const problems = problemsOf(() =>
      parseScenario(
        scenario([line({ id: 'Bad Id', colour: 'red', mainMeter: { id: 'main', profile: 'chint-dtsu999' } }), line({ ratedKw: -1 })], { speed: 0 }),
      ),
    )
    const paths = [...new Set(problems.map((p) => p.path))].sort()
    expect(paths).toEqual([
      '/enterprises/0/sites/0/lines/0/colour',
      '/enterprises/0/sites/0/lines/0/id',
      '/enterprises/0/sites/0/lines/0/mainMeter/profile',
      '/enterprises/0/sites/0/lines/1/ratedKw',
      '/speed',
    ])
  })

  it('reports every consistency problem at once, with its path', () => {
    const problems = problemsOf(() =>
      parseScenario(
        scenario(
          [
            line({ subMeters: [{ id: 's1', share: 0.5 }] }),
            line({ product: { id: 'p', unit: 't', secTarget: 'benchmark' }, loadShape: 'shifts' }),
            line({ id: 'l3', subMeters: [{ id: 'main', share: 0.95 }], mainMeter: { id: 'main', transport: 'rtu' } }),
          ],
          { faults: [{ device: 'e/s/l1/nope', kind: 'step', start: '2026-01-01T00:00:00+08:00' }] },
        ),
      ),
    )
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: '/enterprises/0/sites/0/lines/0/subMeters', message: expect.stringContaining('must be 1') },
        { path: '/enterprises/0/sites/0/lines/1', message: 'line id "l1" is used twice' },
        { path: '/enterprises/0/sites/0/lines/1/product/secTarget', message: expect.stringContaining('benchmark') },
        { path: '/enterprises/0/sites/0/lines/1/shifts', message: expect.stringContaining('at least one shift') },
        { path: '/enterprises/0/sites/0/lines/2', message: 'device id "main" is used twice in the line' },
        { path: '/enterprises/0/sites/0/lines/2/mainMeter/serialPath', message: 'required for transport rtu' },
        { path: '/faults/0/device', message: 'no device e/s/l1/nope in the scenario' },
        { path: '/faults/0/deltaKw', message: 'required for step' },
      ]),
    )
  })

  it('names the file and the line of a YAML syntax error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-scenario-'))
    try {
      const file = join(dir, 'broken.yaml')
      writeFileSync(file, 'name: x\nenterprises: [\n  - id: a\n')
      let err: unknown
      try {
        loadScenario(file)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(PlantWattError)
      expect((err as PlantWattError).code).toBe('SIM_ERR_SCENARIO')
      expect((err as Error).message).toMatch(new RegExp(`^${file}: YAML syntax error at line \\d+`))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('fills defaults and freezes the result', () => {
    const s: Scenario = parseScenario(scenario([line()]))
    expect(s.seed).toBe(1)
    expect(s.speed).toBe(1)
    expect(s.enterprises[0]!.sites[0]!.lines[0]!.mainMeter.profile).toBe('acrel-adl400-primary')
    expect(s.enterprises[0]!.sites[0]!.lines[0]!.subMeters[0]!.profile).toBe('chint-dtsu666')
    expect(Object.isFrozen(s.enterprises[0]!.sites[0]!.lines[0])).toBe(true)
  })
})
