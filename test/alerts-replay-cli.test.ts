import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedStore } from '../storage/embedded/index.ts'

/** `plantwatt alerts replay` as a user runs it: a config file, an embedded store maintained past its 1-minute horizon. */
const BIN = join(import.meta.dirname, '..', 'bin', 'plantwatt.js')
const DAY = 86_400_000
// Monday 2024-01-29 00:00 Shanghai: far past the default 400 days of 1-minute roll-ups.
const R = Date.UTC(2024, 0, 28, 16)
let dir: string
let config: string

function replay(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'alerts', 'replay', '-c', config, ...args], { encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-replay-cli-'))
  const path = join(dir, 'plantwatt.db')
  config = join(dir, 'plant.yaml')
  writeFileSync(
    config,
    [
      'plant:',
      '  timezone: Asia/Shanghai',
      '  enterprises:',
      '    - id: acme',
      '      sites:',
      '        - id: wuhan',
      '          lines:',
      '            - id: l1',
      '              devices:',
      '                - id: meter',
      '                  kind: meter',
      'storage:',
      '  backend: embedded',
      `  path: ${JSON.stringify(path)}`,
      'alerts:',
      '  rules:',
      '    - id: offline',
      '      kind: offline',
      '',
    ].join('\n'),
  )
  // Two days of 1-minute power, 01:00–03:00 of the second missing; maintained now: raw and 1-minute data are gone.
  const store = createEmbeddedStore({ path, retention: {}, maintenanceIntervalMs: 0 })
  const points = []
  for (let t = R; t < R + 2 * DAY; t += 60_000) {
    if (t >= R + DAY + 3_600_000 && t < R + DAY + 3 * 3_600_000) continue
    points.push({
      measurement: 'telemetry',
      tags: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' },
      fields: { active_power_kw: 100 + (t % 7) },
      ts: t,
    })
  }
  await store.write(points)
  store.maintain()
  await store.close()
}, 60_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('plantwatt alerts replay', () => {
  it('replays history only the 15-minute roll-up still holds, and says so in the table', () => {
    const r = replay('--from', '2024-01-29', '--to', '2024-01-31')
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toContain(
      'replay 2024-01-29 00:00 … 2024-01-31 00:00 (Asia/Shanghai), learned from history before 2024-01-29 00:00: 1 device(s), 0 baseline(s), 184 samples',
    )
    expect(r.stdout).toContain(
      '! ALERTS_WARN_RESOLUTION 2024-01-29 00:00 … 2024-01-31 00:00 (Asia/Shanghai) read at 15 min, not 1 min: the store keeps nothing finer there',
    )
    // The hole judged at 15 minutes: last window 00:45, limit 75 min, opened at 02:01, closed by the 03:00 window.
    expect(r.stdout).toMatch(/2024-01-30 02:01\s+2024-01-30 03:00\s+offline\s+acme\/wuhan\/l1\/meter\s+76\.0 min\s+75\.0 min\n/)
  })

  it('names its flags and the plant model in its errors', () => {
    const late = replay('--from', '2024-01-29', '--to', '2024-01-31', '--learn-until', '2024-01-30')
    expect(late.status).toBe(1)
    expect(late.stderr).toBe(
      'plantwatt: ALERTS_ERR_RANGE: --learn-until (2024-01-30 00:00) must not be after --from (2024-01-29 00:00; Asia/Shanghai): the baselines would learn the replayed data\n',
    )
    const backwards = replay('--from', '2024-01-31', '--to', '2024-01-29')
    expect(backwards.stderr).toBe(
      'plantwatt: ALERTS_ERR_RANGE: replay range: --from must be before --to (--from 2024-01-31 00:00, --to 2024-01-29 00:00; Asia/Shanghai)\n',
    )
    const unknown = replay('--from', '2024-01-29', '--to', '2024-01-31', '--device', 'meter', 'mtr')
    expect(unknown.status).toBe(1)
    expect(unknown.stderr).toBe(
      'plantwatt: ALERTS_ERR_SCOPE: --device: "mtr" is not a device of the plant model, and the store has no telemetry of it between 2024-01-29 00:00 and 2024-01-31 00:00 (Asia/Shanghai)\n',
    )
  })
})
