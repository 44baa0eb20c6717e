import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { build } from '../api/app.ts'
import { loadPlantWattConfig } from '../cli/config.ts'
import { referenceOf } from '../cli/reference.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'
import { createEmbeddedStore, type TelemetryStore } from '../storage/index.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../storage/store.ts'

/**
 * A config file with a `reference:` section (a tariff from a file it names, a grid factor inline)
 * loaded the way the commands load it, the real API over the embedded store, and `plantwatt check`
 * as a process. Asia/Shanghai is UTC+8: local midnight of a date D is D − 8 h UTC.
 */

const BIN = join(import.meta.dirname, '..', 'bin', 'plantwatt.js')
const tmp = mkdtempSync(join(tmpdir(), 'pw-reference-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const ALL_MONTHS = '[1,2,3,4,5,6,7,8,9,10,11,12]'
const TARIFFS_YAML = `
tariffs:
  tariffs:
    - id: plant-contract
      region: hubei
      versions:
        - id: contract-2021
          effectiveFrom: '2021-01-01'
          kind: single-part
          pricesPerKwh: { flat: 0.6 }
          seasons: [{ name: all, months: ${ALL_MONTHS}, spans: [{ period: flat, from: '00:00', to: '24:00' }] }]
          source: supply contract 2021 (test)
        - id: contract-2023
          effectiveFrom: '2023-01-01'
          kind: single-part
          pricesPerKwh: { valley: 0.3, flat: 0.8 }
          seasons: [{ name: all, months: ${ALL_MONTHS}, spans: [{ period: valley, from: '00:00', to: '08:00' }, { period: flat, from: '08:00', to: '24:00' }] }]
          source: supply contract 2023 (test)
`
const CONFIG_YAML = `
plant:
  timezone: Asia/Shanghai
  enterprises:
    - id: acme
      region: hubei
      sites:
        - id: w1
          tariff: plant-contract
          lines: [{ id: l1, devices: [{ id: m }] }]
    - id: other
      region: hubei
      sites: [{ id: s, lines: [{ id: x, devices: [{ id: m }] }] }]
reference:
  files: [ref/tariffs.yaml]
  emissionFactors:
    factors:
      - { region: hubei, year: 2023, kgCo2PerKwh: 0.5, source: plant auditor 2023 (test value) }
`

const localMidnight = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d) - 8 * HOUR_MS
const DEC31 = localMidnight(2022, 12, 31)
const JUN1_2021 = localMidnight(2021, 6, 1)

/** A 100 kW meter: counter readings every 15 minutes over [from, to]. */
function meter(enterprise: string, site: string, line: string, from: number, to: number, startKwh = 0): TelemetryPoint[] {
  const out: TelemetryPoint[] = []
  for (let ts = from; ts <= to; ts += 15 * MINUTE_MS) {
    out.push({
      measurement: TELEMETRY_MEASUREMENT,
      tags: { enterprise, site, line, device: 'm' },
      fields: { energy_import_kwh: startKwh + (100 * (ts - from)) / HOUR_MS },
      ts,
    })
  }
  return out
}

function write(name: string, text: string): string {
  const file = join(tmp, name)
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, text)
  return file
}

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

describe('reference data from the config file', () => {
  let store: TelemetryStore
  let app: FastifyInstance
  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url: `/api/v1${url}` })
    return { status: res.statusCode, body: res.json() as Json }
  }

  beforeAll(async () => {
    write('ref/tariffs.yaml', TARIFFS_YAML)
    const cfg = loadPlantWattConfig(write('plant.yaml', CONFIG_YAML))
    store = createEmbeddedStore({ path: ':memory:' })
    await store.write([
      ...meter('acme', 'w1', 'l1', DEC31, DEC31 + 48 * HOUR_MS),
      ...meter('acme', 'w1', 'l1', JUN1_2021, JUN1_2021 + 24 * HOUR_MS, 0),
      ...meter('other', 's', 'x', JUN1_2021, JUN1_2021 + 24 * HOUR_MS),
    ])
    app = await build({ store, plant: cfg.plant, reference: referenceOf(cfg), now: () => localMidnight(2024, 1, 1) })
  }, 60_000)
  afterAll(async () => {
    await app?.close()
    await store?.close()
  })

  it('prices each day with the configured tariff version in force then, and names it', async () => {
    const r = await get('/cost?scope=acme/w1/l1&start=2022-12-31&stop=2023-01-02&granularity=day')
    expect(r.status).toBe(200)
    // 2022-12-31: 2400 kWh × 0.6 = 1440 (contract-2021). 2023-01-01: valley 800 × 0.3 = 240, flat 1600 × 0.8 = 1280 (contract-2023).
    const day = (bucket: string) => r.body.rows.filter((x: Json) => x.bucket === bucket)
    expect(day('2022-12-31')).toEqual([
      expect.objectContaining({ tariff: 'plant-contract', version: 'contract-2021', period: 'flat', cost: expect.closeTo(1440, 6) }),
    ])
    expect(Object.fromEntries(day('2023-01-01').map((x: Json) => [x.period, [x.version, x.cost]]))).toEqual({
      valley: ['contract-2023', expect.closeTo(240, 6)],
      flat: ['contract-2023', expect.closeTo(1280, 6)],
    })
    expect(r.body.totalCost).toBeCloseTo(2960, 6)
    expect(r.body.tariffs[0]).toMatchObject({ id: 'plant-contract', chosenBy: 'site' })
    expect(r.body.tariffs[0].versions.map((v: Json) => [v.id, v.effectiveFrom, v.source])).toEqual([
      ['contract-2021', '2021-01-01', 'supply contract 2021 (test)'],
      ['contract-2023', '2023-01-01', 'supply contract 2023 (test)'],
    ])
    // 2021 history: 2400 kWh × 0.6 = 1440 with the 2021 version.
    const y2021 = await get('/cost?scope=acme/w1/l1&start=2021-06-01&stop=2021-06-02&granularity=total')
    expect(y2021.body.totalCost).toBeCloseTo(1440, 6)
    expect(y2021.body.tariffs[0].versions.map((v: Json) => v.id)).toEqual(['contract-2021'])
  })

  it('uses the configured Hubei 2023 factor for 2023 and the shipped ones before, naming each', async () => {
    const r = await get('/carbon?scope=acme/w1/l1&start=2022-12-31&stop=2023-01-02&granularity=day')
    expect(r.status).toBe(200)
    // 2400 kWh × 0.4364 (Hubei 2022, MEE/NBS) = 1047.36 kg; 2400 kWh × 0.5 (configured 2023) = 1200 kg.
    expect(r.body.rows.map((x: Json) => [x.bucket, x.factorYear, x.kgCo2PerKwh])).toEqual([
      ['2022-12-31', 2022, 0.4364],
      ['2023-01-01', 2023, 0.5],
    ])
    expect(r.body.kgCo2).toBeCloseTo(2247.36, 6)
    expect(r.body.factors.map((f: Json) => f.source)).toEqual([
      expect.stringContaining('2022 factors: announcement of 2024-12-20'),
      'plant auditor 2023 (test value)',
    ])
    expect(r.body.coal).toMatchObject({ tableVersion: 'gbt2589-2020', kgcePerUnit: 0.1229 })
  })

  it('a region with no tariff version in force says which config key to set', async () => {
    // other: no site tariff → Hubei single-part 1–10 kV, whose first shipped version is 2026-01-01.
    const r = await get('/cost?scope=other/s/x&start=2021-06-01&stop=2021-06-02&granularity=total')
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('ANALYTICS_ERR_TARIFF')
    expect(r.body.error.message).toMatch(/no version in force at 2021-05-31T16:00:00\.000Z.*first takes effect 2026-01-01.*reference\.tariffs\.tariffs/)
  })
})

describe('plantwatt check with a reference section', () => {
  const check = (file: string) => spawnSync(process.execPath, [BIN, 'check', '-c', file], { encoding: 'utf8', timeout: 60_000 })

  it('prints the versions in force per table and what the config overrides', () => {
    write('ok/ref/tariffs.yaml', TARIFFS_YAML)
    const r = check(write('ok/plant.yaml', CONFIG_YAML))
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('tariffs (reference.tariffs.tariffs): per tariff, overridden: added plant-contract')
    expect(r.stdout).toContain('plant-contract: contract-2023 (from 2023-01-01) [configured] — supply contract 2023 (test)')
    expect(r.stdout).toContain('emissionFactors (reference.emissionFactors.factors): mee-nbs-2021-2023+config, overridden: added hubei/2023')
    expect(r.stdout).toContain('hubei: 2023: 0.5 kg CO2/kWh [configured] — plant auditor 2023 (test value)')
    expect(r.stdout).toContain('coal (reference.coal.coefficients): gbt2589-2020, as shipped')
  })

  it('reports every problem of the section and of its files at once, with file and path', () => {
    write(
      'bad/ref/bad.yaml',
      'tariffs:\n  tariffs:\n    - id: t\n      region: hubei\n      versions: [{ id: v, effectiveFrom: "2021-01-01", kind: single-part, pricesPerKwh: { flat: -1 }, seasons: [] }]\n',
    )
    const r = check(write('bad/plant.yaml', 'reference:\n  files: [ref/bad.yaml, ref/missing.yaml]\n  coal: { coefficients: [{ carrier: x }] }\n'))
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('CORE_ERR_CONFIG')
    expect(r.stderr).toContain('/reference/coal/coefficients/0: must have required properties unit, kgcePerUnit')
    expect(r.stderr).toContain('reference.files[1] (ref/missing.yaml): cannot read (ENOENT)')
    expect(r.stderr).toContain('ref/bad.yaml: /tariffs/tariffs/0/versions/0/pricesPerKwh/flat: must be >= 0')
    expect(r.stderr).toContain('ref/bad.yaml: /tariffs/tariffs/0/versions/0/seasons: must not have fewer than 1 items')
    expect(r.stderr).toMatch(/ref\/bad\.yaml: \/tariffs\/tariffs\/0\/versions\/0: must have required properties source/)
  })

  it('reports a tariff whose periods overlap in a reference file', () => {
    const overlap = TARIFFS_YAML.replace("{ period: flat, from: '08:00', to: '24:00' }", "{ period: flat, from: '07:00', to: '24:00' }")
    write('overlap/ref/tariffs.yaml', overlap)
    const r = check(write('overlap/plant.yaml', 'reference:\n  files: [ref/tariffs.yaml]\n'))
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('tariff plant-contract, version contract-2023, season all: 07:00–08:00 is in more than one period (valley, flat)')
  })
})
