import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { loadConfigFile, validateConfig, type ConfigProblem } from './config.ts'
import { PlantWattError } from './errors.ts'
import { PlantModelSchema } from './plant.ts'
import { parseDuration } from './duration.ts'

const Schema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
    nested: Type.Object({ host: Type.String({ default: 'localhost' }) }, { additionalProperties: false, default: {} }),
  },
  { additionalProperties: false },
)

function problemsOf(fn: () => unknown): ConfigProblem[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof PlantWattError && err.code === 'CORE_ERR_CONFIG') return err.details as ConfigProblem[]
    throw err
  }
  throw new Error('expected CORE_ERR_CONFIG')
}

describe('config loading', () => {
  it('fills defaults and freezes the result', () => {
    const cfg = validateConfig(Schema, {})
    expect(cfg).toEqual({ port: 1883, nested: { host: 'localhost' } })
    expect(Object.isFrozen(cfg.nested)).toBe(true)
  })

  it('reports every bad key with its path in one error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-config-'))
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'port: 99999\nnested:\n  host: h\n  colour: blue\n')
    let message = ''
    try {
      loadConfigFile(Schema, file)
    } catch (err) {
      message = (err as Error).message
      expect((err as PlantWattError).code).toBe('CORE_ERR_CONFIG')
    }
    expect(message).toContain(file)
    expect(message).toContain('2 problem(s)')
    const problems = problemsOf(() => loadConfigFile(Schema, file))
    expect(problems.map((p) => p.path).sort()).toEqual(['/nested/colour', '/port'])
  })

  it('reports YAML syntax errors with a position', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-config-'))
    const file = join(dir, 'syntax.yaml')
    writeFileSync(file, 'port: 1\n  nested: [\n')
    expect(() => loadConfigFile(Schema, file)).toThrow(/line \d+, column \d+/)
  })

  it('reports a missing file with its name', () => {
    expect(() => loadConfigFile(Schema, '/nonexistent/plantwatt.yaml')).toThrow(/nonexistent\/plantwatt.yaml: cannot read config file \(ENOENT\)/)
  })

  it('validates ids in the plant model', () => {
    const problems = problemsOf(() => validateConfig(PlantModelSchema, { enterprises: [{ id: 'Bad Id', sites: [{ id: 'ok', lines: [{ id: 'l/1' }] }] }] }))
    expect(problems.map((p) => p.path)).toEqual(['/enterprises/0/id', '/enterprises/0/sites/0/lines/0/id'])
  })
})

describe('durations', () => {
  it('parses fixed and calendar windows', () => {
    expect(parseDuration('15m')).toEqual({ kind: 'fixed', ms: 900_000, text: '15m' })
    expect(parseDuration('1d')).toEqual({ kind: 'fixed', ms: 86_400_000, text: '1d' })
    expect(parseDuration('1mo')).toEqual({ kind: 'calendar', months: 1, text: '1mo' })
    expect(parseDuration('2y')).toEqual({ kind: 'calendar', months: 24, text: '2y' })
    expect(() => parseDuration('0m')).toThrow(/invalid duration/)
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration/)
  })
})
