import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { buildProgram } from './program.ts'

const tmp = mkdtempSync(join(tmpdir(), 'pw-program-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('plantwatt program', () => {
  it('registers every command once, in the order --help lists them', () => {
    const names = buildProgram().commands.map((c) => c.name())
    expect(names).toEqual([
      'up',
      'broker',
      'edge',
      'ingest',
      'api',
      'sim',
      'backfill',
      'alerts',
      'import',
      'entries',
      'meter-events',
      'storage',
      'upload',
      'province',
      'check',
      'bench',
    ])
  })

  it('each command reading a config file has -c/--config; up and sim default to the demo', () => {
    const storage = buildProgram().commands.find((c) => c.name() === 'storage')
    // storage groups subcommands: those that read the config have -c.
    expect(storage?.commands.filter((c) => c.options.some((o) => o.long === '--config' && o.short === '-c')).map((c) => c.name())).toEqual(['status', 'backup'])
    // entries groups subcommands, each with -c.
    const entries = buildProgram().commands.find((c) => c.name() === 'entries')
    expect(entries?.commands.filter((c) => c.options.some((o) => o.long === '--config' && o.short === '-c')).map((c) => c.name())).toEqual([
      'list',
      'add',
      'import',
    ])
    const meterEvents = buildProgram().commands.find((c) => c.name() === 'meter-events')
    const withConfig = meterEvents?.commands.filter((c) => c.options.some((o) => o.long === '--config' && o.short === '-c'))
    expect(withConfig?.map((c) => c.name())).toEqual(['add', 'list'])
    const groups = ['bench', 'entries', 'meter-events', 'storage']
    for (const c of buildProgram().commands.filter((c) => !groups.includes(c.name()))) {
      const config = c.options.find((o) => o.long === '--config')
      expect(config?.short, c.name()).toBe('-c')
      if (c.name() === 'up' || c.name() === 'sim') expect(String(config?.defaultValue)).toMatch(/examples[\\/]demo\.yaml$/)
    }
  })

  it('check: ok for a good file; the config error for a bad one', async () => {
    const good = join(tmp, 'good.yaml')
    writeFileSync(good, 'broker:\n  port: 1884\n')
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    try {
      await buildProgram().parseAsync(['check', '-c', good], { from: 'user' })
      expect(write).toHaveBeenCalledWith(`${good}: ok\n`)
    } finally {
      write.mockRestore()
    }
    const bad = join(tmp, 'bad.yaml')
    writeFileSync(bad, 'broker:\n  port: 70000\n')
    await expect(buildProgram().parseAsync(['check', '-c', bad], { from: 'user' })).rejects.toThrow(/\/broker\/port/)
  })
})
