import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { registerEntriesCommand } from './entries.ts'

/** `plantwatt entries add|list|import` on a real config file and embedded store. */

let dir: string
let config: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-cli-entries-'))
  config = join(dir, 'plant.yaml')
  writeFileSync(
    config,
    [
      'plant:',
      '  timezone: Asia/Shanghai',
      '  enterprises:',
      '    - id: hb-cement',
      '      sites:',
      '        - id: plant-a',
      '          lines:',
      '            - id: kiln-1',
      '              product: { id: clinker, unit: t, productionDevice: belt-1 }',
      '              devices: [{ id: belt-1, kind: plc }]',
      'storage:',
      '  backend: embedded',
      `  path: ${join(dir, 'plantwatt.db')}`,
      '',
    ].join('\n'),
  )
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let out: string[]
let err: string[]
afterEach(() => {
  vi.restoreAllMocks()
  process.exitCode = undefined
})

async function run(...args: string[]): Promise<void> {
  out = []
  err = []
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0)
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0)
  const program = new Command('plantwatt').exitOverride()
  registerEntriesCommand(program)
  await program.parseAsync(args, { from: 'user' })
  vi.restoreAllMocks()
}

describe('plantwatt entries', () => {
  it('adds a coal day, lists it, imports a CSV all or nothing', async () => {
    await run(
      'entries',
      'add',
      '-c',
      config,
      '--scope',
      'hb-cement/plant-a/kiln-1',
      '--carrier',
      'raw-coal',
      '--amount',
      '412.6',
      '--unit',
      't',
      '--start',
      '2026-03-01',
      '--end',
      '2026-03-02',
      '--ncv',
      '21500000',
      '--source',
      'weighbridge',
      '--user',
      'li.wei',
      '--reason',
      'slip 0301',
    )
    // 2026-03-01 00:00 Shanghai = 2026-02-28T16:00Z
    expect(out.join('')).toMatch(
      /^energy_entry-\S+ {2}hb-cement\/plant-a\/kiln-1 {2}raw-coal import 412\.6 t NCV 21500000 kJ\/t {2}2026-02-28T16:00:00\.000Z – 2026-03-01T16:00:00\.000Z {2}weighbridge {2}r1 by li\.wei at \S+ \(slip 0301\)\n$/,
    )
    await run('entries', 'list', '-c', config, '--from', '2026-03-01', '--to', '2026-04-01', '--kind', 'energy')
    expect(out.join('').split('\n').filter(Boolean)).toHaveLength(1)

    const bad = join(dir, 'bad.csv')
    writeFileSync(
      bad,
      'enterprise,site,line,amount,unit,start,end\nhb-cement,plant-a,kiln-1,4800,t,2026-03-01,2026-03-02\nhb-cement,plant-a,kiln-1,4790,pcs,2026-03-02,2026-03-03\n',
    )
    await run('entries', 'import', '-c', config, bad, '--user', 'erp')
    expect(process.exitCode).toBe(2)
    expect(err.join('')).toBe(`${bad}: nothing written\nrow 3 column unit: RECORDS_ERR_UNIT: the product of kiln-1 (clinker) is counted in t, not "pcs"\n`)
    await run('entries', 'list', '-c', config, '--from', '2026-03-01', '--to', '2026-04-01', '--kind', 'production')
    expect(out.join('')).toBe('no entries\n')

    const good = join(dir, 'good.csv')
    writeFileSync(
      good,
      'enterprise,site,line,amount,unit,start,end\nhb-cement,plant-a,kiln-1,4800,t,2026-03-01,2026-03-02\nhb-cement,plant-a,kiln-1,4790,t,2026-03-02,2026-03-03\n',
    )
    await run('entries', 'import', '-c', config, good, '--user', 'erp')
    expect(out.join('')).toMatch(/^2 entries written from 2 row\(s\)\n/)
    await run('entries', 'list', '-c', config, '--scope', 'hb-cement/plant-a/kiln-1', '--from', '2026-03-01', '--to', '2026-04-01')
    expect(
      out
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('  ')[2]),
    ).toEqual(['raw-coal import 412.6 t NCV 21500000 kJ/t', 'production 4800 t', 'production 4790 t'])
  })

  it('refuses a bad flag naming it', async () => {
    await expect(
      run(
        'entries',
        'add',
        '-c',
        config,
        '--scope',
        'hb-cement/plant-a/kiln-1',
        '--carrier',
        'raw-coal',
        '--amount',
        '-1',
        '--unit',
        't',
        '--start',
        '2026-03-05',
        '--end',
        '2026-03-06',
      ),
    ).rejects.toMatchObject({ code: 'RECORDS_ERR_AMOUNT', details: { field: 'amount' } })
    await expect(
      run(
        'entries',
        'add',
        '-c',
        config,
        '--scope',
        'hb-cement',
        '--carrier',
        'raw-coal',
        '--amount',
        '1',
        '--unit',
        't',
        '--start',
        'yesterday',
        '--end',
        '2026-03-06',
      ),
    ).rejects.toMatchObject({ code: 'RECORDS_ERR_SCHEMA', details: { field: 'start' } })
  })
})
