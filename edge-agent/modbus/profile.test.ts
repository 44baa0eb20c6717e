import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { PlantWattError } from '../../core/errors.ts'
import { loadProfile, shippedProfiles, validateProfile } from './profile.ts'
import { isProfileError, type ProfileProblem } from '../profile-error.ts'

const tempDirs: string[] = []
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

const base = { name: 'test', vendor: 'ACME', model: 'M1', source: 'ACME M1 manual v2, table 4' }

function errorOf(fn: () => unknown): PlantWattError {
  try {
    fn()
  } catch (err) {
    if (isProfileError(err)) return err
    throw err
  }
  throw new Error('expected an EDGE_ERR_PROFILE_* error')
}

function problemsOf(raw: unknown): string[] {
  return (errorOf(() => validateProfile(raw, 'test.yaml')).details as ProfileProblem[]).map((p) => `${p.path}: ${p.message}`)
}

describe('shipped profiles', () => {
  it('eastron-sdm630 maps the DOMAIN.md input registers with W→kW scaling', () => {
    expect(shippedProfiles()).toContain('eastron-sdm630')
    const p = loadProfile('eastron-sdm630')
    expect(p.source).toMatch(/Eastron/)
    const byQ = Object.fromEntries(p.points.map((pt) => [pt.quantity, pt]))
    const expected: [string, number, number][] = [
      ['voltage_l1_v', 0x00, 1],
      ['voltage_l2_v', 0x02, 1],
      ['voltage_l3_v', 0x04, 1],
      ['current_l1_a', 0x06, 1],
      ['current_l2_a', 0x08, 1],
      ['current_l3_a', 0x0a, 1],
      ['active_power_l1_kw', 0x0c, 0.001],
      ['active_power_l2_kw', 0x0e, 0.001],
      ['active_power_l3_kw', 0x10, 0.001],
      ['power_factor_l1', 0x1e, 1],
      ['power_factor_l2', 0x20, 1],
      ['power_factor_l3', 0x22, 1],
      ['active_power_kw', 0x34, 0.001],
      ['apparent_power_kva', 0x38, 0.001],
      ['reactive_power_kvar', 0x3c, 0.001],
      ['power_factor', 0x3e, 1],
      ['frequency_hz', 0x46, 1],
      ['energy_import_kwh', 0x48, 1],
      ['energy_export_kwh', 0x4a, 1],
      ['reactive_energy_import_kvarh', 0x4c, 1],
      ['reactive_energy_export_kvarh', 0x4e, 1],
      ['energy_total_kwh', 0x156, 1],
    ]
    expect(p.points).toHaveLength(expected.length)
    for (const [q, address, scale] of expected) {
      expect(byQ[q], q).toMatchObject({ function: 'input', address, type: 'float32', wordOrder: 'ABCD', scale, offset: 0, width: 2 })
    }
    expect(Object.isFrozen(p)).toBe(true)
    expect(Object.isFrozen(p.points)).toBe(true)
    expect(Object.isFrozen(p.points[0])).toBe(true)
  })

  it('names the shipped profiles when a name is unknown', () => {
    expect(() => loadProfile('no-such-meter')).toThrow(/cannot read .*no-such-meter\.yaml \(ENOENT\) \(shipped profiles: .*eastron-sdm630/)
  })
})

describe('profile validation', () => {
  it('normalises function codes, fills defaults and loads YAML hex addresses from a path', () => {
    const dir = tempDir('pw-profile-')
    const file = join(dir, 'acme.yaml')
    writeFileSync(
      file,
      [
        'name: acme-m1',
        'vendor: ACME',
        'model: M1',
        'source: ACME M1 manual v2, table 4',
        'points:',
        '  - { quantity: voltage_l1_v, function: 3, address: 0x61, type: uint16, scale: 0.1 }',
        '  - { quantity: machine_state, function: 1, address: 0x10 }',
        '  - { quantity: energy_import_kwh, function: holding, address: 0x0A, type: uint32, wordOrder: CDAB, scale: 0.01 }',
      ].join('\n'),
    )
    const p = loadProfile(file)
    expect(p.file).toBe(file)
    expect(p.points).toEqual([
      { quantity: 'voltage_l1_v', function: 'holding', address: 0x61, type: 'uint16', wordOrder: 'ABCD', scale: 0.1, offset: 0, width: 1 },
      { quantity: 'machine_state', function: 'coil', address: 0x10, type: 'bit', wordOrder: 'ABCD', scale: 1, offset: 0, width: 1 },
      { quantity: 'energy_import_kwh', function: 'holding', address: 0x0a, type: 'uint32', wordOrder: 'CDAB', scale: 0.01, offset: 0, width: 2 },
    ])
  })

  it('names the point and register of every problem, all at once', () => {
    const problems = problemsOf({
      ...base,
      points: [
        { quantity: 'voltage_l1_v', function: 'input', address: 0, type: 'float32' },
        { quantity: 'volts', function: 'input', address: 4, type: 'float32' },
        { quantity: 'current_l1_a', function: 'input', address: 1, type: 'float32' },
        { quantity: 'frequency_hz', function: 'input', address: 65535, type: 'float32' },
        { quantity: 'power_factor', function: 'holding', address: 70000, type: 'int16' },
        { quantity: 'active_power_kw', function: 'holding', address: 3 },
        { quantity: 'machine_state', function: 'coil', address: 3, type: 'uint16' },
        { quantity: 'voltage_l1_v', function: 'input', address: 10, type: 'float32' },
      ],
    })
    expect(problems).toEqual([
      '/points/1/quantity: unknown quantity "volts": use a canonical name from core/quantities.ts',
      '/points/3/address: frequency_hz: address 65535 (float32, 2 register(s)) is outside 0..65535',
      '/points/4/address: power_factor: address 70000 (int16, 1 register(s)) is outside 0..65535',
      '/points/5/type: active_power_kw (holding 0x0003): a holding register needs a type (uint16, int16, uint32, int32, float32, uint64, int64, float64, string)',
      '/points/6/type: machine_state (coil 0x0003): type uint16 does not fit the coil table (bits only)',
      '/points/7/quantity: voltage_l1_v (input 0x000A): quantity already mapped by /points/0',
      '/points/2/address: current_l1_a (input 0x0001, float32) overlaps voltage_l1_v (input 0x0000, float32)',
    ])
  })

  it('reports schema problems with their paths: missing source, unknown keys, bad enums', () => {
    const { source: _omit, ...noSource } = base
    expect(problemsOf({ ...noSource, points: [{ quantity: 'voltage_l1_v', function: 'input', address: 0, type: 'float32', colour: 'red' }] })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/: .*source/), '/points/0/colour: unknown key']),
    )
    expect(problemsOf({ ...base, points: [{ quantity: 'voltage_l1_v', function: 5, address: 0, type: 'float32' }] })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/points\/0\/function/)]),
    )
    expect(problemsOf({ ...base, points: [] })).toEqual([expect.stringMatching(/^\/points: /)])
  })

  it('a point with ratio needs the matching ratio register, and is named when it lacks it', () => {
    const ct = { function: 'holding', address: 0x8e, type: 'uint16', scale: 1 }
    const pt = { function: 3, address: 0x8d, type: 'uint16' }
    const points = [
      { quantity: 'current_l1_a', function: 'holding', address: 0x64, type: 'uint16', scale: 0.01, ratio: 'ct' },
      { quantity: 'voltage_l1_v', function: 'holding', address: 0x61, type: 'uint16', scale: 0.1, ratio: 'pt' },
      { quantity: 'active_power_kw', function: 'holding', address: 0x16a, type: 'int32', scale: 0.001, ratio: 'ctpt' },
      { quantity: 'frequency_hz', function: 'holding', address: 0x77, type: 'uint16', scale: 0.01 },
    ]
    const ok = validateProfile({ ...base, ratios: { ct, pt }, points }, 'test.yaml')
    expect(ok.ratios).toEqual({
      ct: { function: 'holding', address: 0x8e, type: 'uint16', wordOrder: 'ABCD', scale: 1, width: 1 },
      pt: { function: 'holding', address: 0x8d, type: 'uint16', wordOrder: 'ABCD', scale: 1, width: 1 },
    })
    expect(ok.points.map((p) => p.ratio)).toEqual(['ct', 'pt', 'ctpt', undefined])
    expect(problemsOf({ ...base, ratios: { ct }, points })).toEqual([
      '/points/1/ratio: voltage_l1_v (holding 0x0061): ratio pt needs ratios.pt (the register holding the PT ratio)',
      '/points/2/ratio: active_power_kw (holding 0x016A): ratio ctpt needs ratios.pt (the register holding the PT ratio)',
    ])
    expect(problemsOf({ ...base, points })).toEqual([
      '/points/0/ratio: current_l1_a (holding 0x0064): ratio ct needs ratios.ct (the register holding the CT ratio)',
      '/points/1/ratio: voltage_l1_v (holding 0x0061): ratio pt needs ratios.pt (the register holding the PT ratio)',
      '/points/2/ratio: active_power_kw (holding 0x016A): ratio ctpt needs ratios.pt and ratios.ct (the register holding the PT/CT ratio)',
    ])
    expect(problemsOf({ ...base, ratios: { ct: { ...ct, type: 'bit' } }, points: [points[0]] })).toEqual([expect.stringMatching(/^\/ratios\/ct\/type/)])
    expect(problemsOf({ ...base, ratios: { ct }, points: [{ ...points[0], ratio: 'cts' }] })).toEqual([expect.stringMatching(/^\/points\/0\/ratio/)])
  })

  it('the shipped acrel-adl400-secondary scales currents by CT, voltages by PT, powers and energies by both', () => {
    const p = loadProfile('acrel-adl400-secondary')
    expect(p.ratios).toMatchObject({
      pt: { function: 'holding', address: 0x8d, type: 'uint16', scale: 1 },
      ct: { function: 'holding', address: 0x8e, type: 'uint16', scale: 1 },
    })
    for (const point of p.points) {
      const want = point.quantity.startsWith('current')
        ? 'ct'
        : point.quantity.startsWith('voltage')
          ? 'pt'
          : ['frequency_hz', 'power_factor'].includes(point.quantity)
            ? undefined
            : 'ctpt'
      expect([point.quantity, point.ratio]).toEqual([point.quantity, want])
    }
  })
})
