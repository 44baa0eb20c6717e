import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { PlantWattError } from '../core/errors.ts'
import { loadOpcuaProfile, nodeIdSyntaxProblem, validateOpcuaProfile } from './opcua/profile.ts'
import { isProfileError, type ProfileProblem } from './profile-error.ts'
import { loadProfile, validateProfile } from './modbus/profile.ts'

/*
 * Each kind of bad profile has its own code (profile-error.ts), and every problem of a profile is
 * listed with its own code and the register or node it concerns. The agent leaves a device with such
 * a profile out of polling (bad-input.test.ts); here, the errors themselves.
 */

const dir = mkdtempSync(join(tmpdir(), 'pw-profile-error-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function errorOf(fn: () => unknown): PlantWattError {
  try {
    fn()
  } catch (err) {
    if (isProfileError(err)) return err
    throw err
  }
  throw new Error('expected an EDGE_ERR_PROFILE_* error')
}
const problems = (err: PlantWattError) => err.details as ProfileProblem[]

const base = { name: 'test', vendor: 'ACME', model: 'M1', source: 'ACME M1 manual v2, table 4' }
const point = (quantity: string, address: number, type = 'float32') => ({ quantity, function: 'input', address, type })

describe('Modbus profile errors', () => {
  it('overlapping registers: EDGE_ERR_PROFILE_OVERLAP naming both points and registers', () => {
    // current_l1_a (float32) spans 0x0006..0x0007; voltage_l1_v at 0x0007 starts inside it
    const err = errorOf(() => validateProfile({ ...base, points: [point('current_l1_a', 6), point('voltage_l1_v', 7)] }, 'overlap.yaml'))
    expect(err.code).toBe('EDGE_ERR_PROFILE_OVERLAP')
    expect(problems(err)).toEqual([
      {
        code: 'EDGE_ERR_PROFILE_OVERLAP',
        path: '/points/1/address',
        message: 'voltage_l1_v (input 0x0007, float32) overlaps current_l1_a (input 0x0006, float32)',
      },
    ])
    expect(err.message).toBe(
      'profile overlap.yaml: 1 problem(s)\n  /points/1/address: voltage_l1_v (input 0x0007, float32) overlaps current_l1_a (input 0x0006, float32)',
    )
  })

  it('registers out of range: EDGE_ERR_PROFILE_RANGE, counting the registers a value spans', () => {
    // float32 at 65535 needs 65535..65536; int16 at 70000 is past 65535; a coil at -1 is below 0
    const err = errorOf(() =>
      validateProfile(
        {
          ...base,
          points: [point('frequency_hz', 65535), point('power_factor', 70000, 'int16'), { quantity: 'machine_state', function: 'coil', address: -1 }],
        },
        'range.yaml',
      ),
    )
    expect(err.code).toBe('EDGE_ERR_PROFILE_RANGE')
    expect(problems(err)).toEqual([
      { code: 'EDGE_ERR_PROFILE_RANGE', path: '/points/0/address', message: 'frequency_hz: address 65535 (float32, 2 register(s)) is outside 0..65535' },
      { code: 'EDGE_ERR_PROFILE_RANGE', path: '/points/1/address', message: 'power_factor: address 70000 (int16, 1 register(s)) is outside 0..65535' },
      { code: 'EDGE_ERR_PROFILE_RANGE', path: '/points/2/address', message: 'machine_state: address -1 (bit, 1 bit) is outside 0..65535' },
    ])
  })

  it('problems of several kinds: EDGE_ERR_PROFILE_INVALID, each line with its own code', () => {
    const err = errorOf(() =>
      validateProfile(
        { ...base, points: [point('voltage_l1_v', 0), point('current_l1_a', 1), point('volts', 10), point('frequency_hz', 65535)] },
        'mixed.yaml',
      ),
    )
    expect(err.code).toBe('EDGE_ERR_PROFILE_INVALID')
    expect(problems(err).map((p) => `${p.code} ${p.path}`)).toEqual([
      'EDGE_ERR_PROFILE_INVALID /points/2/quantity',
      'EDGE_ERR_PROFILE_RANGE /points/3/address',
      'EDGE_ERR_PROFILE_OVERLAP /points/1/address',
    ])
    expect(err.message).toContain(
      '\n  /points/1/address: current_l1_a (input 0x0001, float32) overlaps voltage_l1_v (input 0x0000, float32) (EDGE_ERR_PROFILE_OVERLAP)',
    )
  })

  it('wrong keys: EDGE_ERR_PROFILE_SCHEMA with the path of each', () => {
    const err = errorOf(() => validateProfile({ ...base, points: [{ ...point('voltage_l1_v', 0), colour: 'red' }] }, 'schema.yaml'))
    expect(err.code).toBe('EDGE_ERR_PROFILE_SCHEMA')
    expect(problems(err)).toEqual([{ code: 'EDGE_ERR_PROFILE_SCHEMA', path: '/points/0/colour', message: 'unknown key' }])
  })

  it('unknown shipped name, missing file, a folder, bad YAML: each its own code, the file as a whole', () => {
    const unknown = errorOf(() => loadProfile('no-such-meter'))
    expect(unknown.code).toBe('EDGE_ERR_PROFILE_UNKNOWN')
    expect(unknown.message).toMatch(
      /^profile "no-such-meter": no shipped Modbus profile of that name: cannot read .*no-such-meter\.yaml \(ENOENT\) \(shipped profiles: acrel-adl400-primary, /,
    )
    expect(problems(unknown)).toEqual([{ code: 'EDGE_ERR_PROFILE_UNKNOWN', path: '', message: unknown.message }])

    const missingFile = join(dir, 'nope.yaml')
    const missing = errorOf(() => loadProfile(missingFile))
    expect(missing.code).toBe('EDGE_ERR_PROFILE_MISSING')
    expect(missing.message).toBe(`profile ${JSON.stringify(missingFile)}: cannot read ${missingFile} (ENOENT): no such file`)

    const folder = join(dir, 'folder.yaml')
    mkdirSync(folder)
    expect(errorOf(() => loadProfile(folder)).code).toBe('EDGE_ERR_PROFILE_UNREADABLE')

    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, 'name: x\npoints: [ { quantity: a\n')
    const syntax = errorOf(() => loadProfile(bad))
    expect(syntax.code).toBe('EDGE_ERR_PROFILE_SYNTAX')
    expect(syntax.message).toContain(bad)
  })
})

describe('OPC UA profile errors', () => {
  it('node id syntax (OPC UA Part 6 §5.3.1.10): what is accepted and why the rest is not', () => {
    for (const ok of [
      'i=2258',
      'ns=2;s=Machine.State',
      'ns=0;i=4294967295',
      'ns=3;g=09087e75-8e5e-499b-954f-f2a9603db28a',
      'ns=1;b=M/RbKBsRVkePCePcx24oRA==',
      'ns=2;s=a;b',
    ]) {
      expect(nodeIdSyntaxProblem(ok), ok).toBeUndefined()
    }
    expect(nodeIdSyntaxProblem('Machine.Count')).toBe('expected [ns=<n>;]<i|s|g|b>=<identifier>')
    expect(nodeIdSyntaxProblem('ns=2;i=12a')).toBe('numeric identifier i=12a is not 0..4294967295')
    expect(nodeIdSyntaxProblem('i=4294967296')).toBe('numeric identifier i=4294967296 is not 0..4294967295')
    expect(nodeIdSyntaxProblem('ns=70000;s=x')).toBe('namespace index "70000" is not 0..65535')
    expect(nodeIdSyntaxProblem('ns=x;s=y')).toBe('namespace index "x" is not 0..65535')
    expect(nodeIdSyntaxProblem('ns=2;g=1234')).toBe('g=1234 is not a GUID (8-4-4-4-12 hex digits)')
    expect(nodeIdSyntaxProblem('ns=2;b=***')).toBe('b=*** is not base64')
    expect(nodeIdSyntaxProblem('ns=2;x=1')).toBe('unknown identifier type x= (i, s, g or b)')
    expect(nodeIdSyntaxProblem('ns=2;s=')).toBe('empty s= identifier')
    expect(nodeIdSyntaxProblem('nsu=urn:x;s=y')).toBe('nsu= (namespace URI) is not supported, use ns=<namespace index>')
  })

  it('a malformed node id: EDGE_ERR_PROFILE_NODE_ID naming the point and the node', () => {
    const raw = {
      ...base,
      points: [
        { quantity: 'machine_state', nodeId: 'ns=2;s=Machine.State' },
        { quantity: 'output_count', nodeId: 'ns=2;i=PartCount' },
      ],
    }
    const err = errorOf(() => validateOpcuaProfile(raw, 'cnc.yaml'))
    expect(err.code).toBe('EDGE_ERR_PROFILE_NODE_ID')
    expect(problems(err)).toEqual([
      {
        code: 'EDGE_ERR_PROFILE_NODE_ID',
        path: '/points/1/nodeId',
        message:
          'output_count: "ns=2;i=PartCount" is not a node id: numeric identifier i=PartCount is not 0..4294967295 (ns=<n>;s=<name> | i=<n> | g=<guid> | b=<base64>)',
      },
    ])
  })

  it('an unknown shipped OPC UA profile name and a missing file', () => {
    const unknown = errorOf(() => loadOpcuaProfile('no-such-machine'))
    expect(unknown.code).toBe('EDGE_ERR_PROFILE_UNKNOWN')
    expect(unknown.message).toMatch(/no shipped OPC UA profile of that name: .*\(shipped OPC UA profiles: generic-cnc\)/)
    expect(errorOf(() => loadOpcuaProfile(join(dir, 'none.yaml'))).code).toBe('EDGE_ERR_PROFILE_MISSING')
  })
})
