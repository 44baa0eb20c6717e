import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import { createEmbeddedStore, TELEMETRY_MEASUREMENT } from '../../storage/index.ts'
import { registerMeterEventsCommand } from './meter-events.ts'

/** `plantwatt meter-events add|list` on a real config file and embedded store holding the old and new meter's readings. */

let dir: string
let config: string
const main = { enterprise: 'acme', site: 'w1', line: 'l1', device: 'main' }
// 2026-03-02 00:00 Asia/Shanghai; the old meter reads 100,000 at 00:30, the new one 60,100 at 00:45.
const T0 = Date.UTC(2026, 2, 1, 16)

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-cli-meter-events-'))
  config = join(dir, 'plant.yaml')
  const db = join(dir, 'plantwatt.db')
  writeFileSync(
    config,
    [
      'plant:',
      '  timezone: Asia/Shanghai',
      '  enterprises:',
      '    - id: acme',
      '      sites:',
      '        - id: w1',
      '          lines:',
      '            - id: l1',
      '              devices: [{ id: main }]',
      'storage:',
      '  backend: embedded',
      `  path: ${db}`,
      '',
    ].join('\n'),
  )
  const store = createEmbeddedStore({ path: db })
  await store.write(
    [99_700, 99_850, 100_000, 60_100].map((v, i) => ({
      measurement: TELEMETRY_MEASUREMENT,
      tags: main,
      fields: { energy_import_kwh: v },
      ts: T0 + i * 900_000,
    })),
  )
  await store.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let out: string[]
afterEach(() => vi.restoreAllMocks())

async function run(...args: string[]): Promise<void> {
  out = []
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0)
  const program = new Command('plantwatt').exitOverride()
  registerMeterEventsCommand(program)
  try {
    await program.parseAsync(args, { from: 'user' })
  } finally {
    vi.restoreAllMocks()
  }
}

describe('plantwatt meter-events', () => {
  it('adds the swap, refuses a contradicting one naming the field, lists', async () => {
    const add = ['meter-events', 'add', '-c', config, '--device', 'acme/w1/l1/main', '--type', 'replacement', '--at', '2026-03-02T00:35', '--user', 'li.wei']
    // 99,990 is below the old meter's last stored reading (100,000 at 00:30): RECORDS_ERR_READING on oldFinalReading.
    const refused = await run(...add, '--old-final', '99990', '--new-start', '60000', '--reason', 'swap').catch((err: unknown) => err)
    expect(isPlantWattError(refused, 'RECORDS_ERR_READING') && (refused.details as { field: string }).field).toBe('oldFinalReading')
    await run(...add, '--old-final', '100050', '--new-start', '60000', '--reason', 'work order 3381')
    expect(out.join('')).toMatch(
      /^meter_event-\S+ {2}acme\/w1\/l1\/main {2}energy_import_kwh {2}2026-03-01T16:35:00\.000Z {2}replacement old final 100050 → new start 60000 {2}r1 by li\.wei at .+ \(work order 3381\)\n$/,
    )
    await run('meter-events', 'list', '-c', config, '--scope', 'acme/w1', '--from', '2026-03-01', '--to', '2026-03-03')
    expect(out.join('').split('\n').filter(Boolean)).toHaveLength(1)
    const bad = await run(...add, '--old-final', 'lots', '--new-start', '60000', '--reason', 'x').catch((err: unknown) => err)
    expect(isPlantWattError(bad, 'RECORDS_ERR_SCHEMA') && (bad.details as { field: string }).field).toBe('oldFinalReading')
  })
})
