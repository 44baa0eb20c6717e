import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BENCH_SCRIPT, benchArgs } from './bench.ts'

describe('plantwatt bench', () => {
  it('runs the bench script in a child process with the same flags as npm run bench', () => {
    expect(benchArgs({ samples: '200000', rounds: '1', enterprises: '20' }, 'bench/cli.ts')).toEqual([
      '--import',
      'tsx',
      'bench/cli.ts',
      '--samples',
      '200000',
      '--rounds',
      '1',
      '--enterprises',
      '20',
    ])
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.bench).toBe('node --import tsx bench/cli.ts')
    expect(BENCH_SCRIPT.endsWith(join('bench', 'cli.ts'))).toBe(true)
  })

  it('nothing under cli/ imports bench/', () => {
    const cli = join(import.meta.dirname, '..')
    const files = readdirSync(cli, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    expect(files).toContain(join('commands', 'bench.ts'))
    for (const file of files) {
      const text = readFileSync(join(cli, file), 'utf8')
      expect(text, file).not.toMatch(/from ['"][./]*bench\/|import\(['"][./]*bench\//)
    }
  })
})
