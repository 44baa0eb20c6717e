import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { HOUR_MS } from '../../core/duration.ts'
import { FaultBook } from '../faults.ts'
import { lineConsumption } from './benchmarks.ts'
import { productionHistoryDevice } from './history-devices.ts'
import { scenarioPlantModel, type ScenarioProduction } from './model.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { loadScenario, parseScenario } from './schema.ts'

const HUBEI = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'scenarios', 'hubei.yaml')

describe('scenario carriers (coal, gas, oxygen counted by the line PLC)', () => {
  it('balances a kgce line to its target: clinker compliant = 108.5 kgce/t', () => {
    const c = lineConsumption(
      { secTarget: 'compliant', benchmark: 'clinker-energy', electricityKwhPerUnit: 52, carriers: [{ quantity: 'coal_t', balance: true }] },
      'x',
    )
    // (108.5 − 52 × 0.1229) / 714.3 = 102.1092 / 714.3 t of coal per t of clinker
    expect(c.kwhPerUnit).toBe(52)
    expect(c.carriers[0]?.perUnit).toBeCloseTo(102.1092 / 714.3, 12)
    // EAF benchmark: 58.56 = 360 × 0.1229 + 30 × 0.4 + gas × 1.2143 → gas = 2.316 / 1.2143 m3/t
    const eaf = lineConsumption(
      {
        secTarget: 'benchmark',
        benchmark: 'eaf-steel',
        electricityKwhPerUnit: 360,
        carriers: [
          { quantity: 'oxygen_m3', perUnit: 30 },
          { quantity: 'gas_m3', balance: true },
        ],
      },
      'x',
    )
    expect(eaf.carriers.map((x) => x.quantity)).toEqual(['oxygen_m3', 'gas_m3'])
    expect(eaf.carriers[1]?.perUnit).toBeCloseTo(2.316 / 1.2143, 9)
    // more electricity than the target allows leaves nothing to balance
    expect(() =>
      lineConsumption({ secTarget: 'benchmark', benchmark: 'eaf-steel', electricityKwhPerUnit: 500, carriers: [{ quantity: 'gas_m3', balance: true }] }, 'x'),
    ).toThrow(/exceed the target/)
  })

  it('the PLC counts its carriers with the output: 10 t/h for an hour at 0.15 t coal/t = 1.5 t coal', () => {
    const p: ScenarioProduction = {
      address: { enterprise: 'e', site: 's', line: 'l', device: 'dcs' },
      key: 'e/s/l/dcs',
      productId: 'clinker',
      quantity: 'output_t',
      secKwhPerUnit: 52,
      carriers: [{ quantity: 'coal_t', perUnit: 0.15 }],
      ratePerHour: () => 10,
    }
    const faults = new FaultBook({ timezone: 'Asia/Shanghai', seed: 1, devices: new Set(['e/s/l/dcs']) })
    const d = productionHistoryDevice(p, { coal_t: 100 }, faults.createPresenter('none', []))
    d.update(0)
    d.update(HOUR_MS)
    expect(d.values()).toEqual({ output_t: 10, coal_t: 101.5 })
    expect(d.counters).toEqual(['output_t', 'coal_t'])
  })

  it('the Hubei scenario: site incomers, kgce lines with carriers, and a coded problem for a bad carrier setup', () => {
    const s = loadScenario(HUBEI)
    const model = scenarioPlantModel(s)
    expect(model.enterprises[0]?.sites[0]?.incomers).toEqual(['clinker-1/main', 'clinker-2/main', 'cement-mill-1/main'])
    const clinker = s.enterprises[0]?.sites[0]?.lines[0]
    expect(clinker?.product).toMatchObject({ benchmark: 'clinker-energy', electricityKwhPerUnit: 52 })
    const bad = structuredClone(s) as { enterprises: Array<{ sites: Array<{ lines: Array<{ product: Record<string, unknown> }> }> }> }
    const product = bad.enterprises[0]?.sites[0]?.lines[0]?.product
    if (product) product.carriers = [{ quantity: 'coal_t' }]
    try {
      parseScenario(bad)
      expect.unreachable()
    } catch (err) {
      expect(isPlantWattError(err, 'SIM_ERR_SCENARIO')).toBe(true)
      const paths = ((err as { details: Array<{ path: string }> }).details ?? []).map((p) => p.path)
      expect(paths).toEqual(
        expect.arrayContaining(['/enterprises/0/sites/0/lines/0/product/electricityKwhPerUnit', '/enterprises/0/sites/0/lines/0/product/carriers/0/perUnit']),
      )
    }
  })
})
