/**
 * The systemd units in deploy/systemd: each passes `systemd-analyze verify` without a warning, its
 * ExecStart runs a `plantwatt` command with options that command has, and the config every unit
 * reads (deploy/plantwatt.yaml) passes `plantwatt check`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const UNITS = join(ROOT, 'deploy', 'systemd')
const BIN = join(ROOT, 'bin', 'plantwatt.js')
const units = readdirSync(UNITS).filter((f) => f.endsWith('.service'))

function plantwatt(args: string[]): string {
  return execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT })
}

describe('systemd units', () => {
  it('ships the all-in-one unit and one per component', () => {
    expect(units.sort()).toEqual([
      'plantwatt-alerts.service',
      'plantwatt-api.service',
      'plantwatt-broker.service',
      'plantwatt-edge.service',
      'plantwatt-ingest.service',
      'plantwatt.service',
    ])
  })

  it.each(units)('%s passes systemd-analyze verify without a warning', (unit) => {
    const run = spawnSync('systemd-analyze', ['verify', join(UNITS, unit)], { encoding: 'utf8' })
    if (run.error) throw new Error('systemd-analyze is not installed (Debian package "systemd")')
    expect(run.stderr.trim()).toBe('')
    expect(run.status).toBe(0)
  })

  it.each(units)('%s starts a plantwatt command with options it has, on the shared config', (unit) => {
    const text = readFileSync(join(UNITS, unit), 'utf8')
    const exec = /^ExecStart=(.*)$/m.exec(text)?.[1]?.split(/\s+/) ?? []
    expect(exec.slice(0, 2)).toEqual(['/usr/bin/node', '/opt/plantwatt/bin/plantwatt.js'])
    const [command, ...args] = exec.slice(2)
    expect(args.slice(0, 2)).toEqual(['-c', '/etc/plantwatt/plantwatt.yaml'])
    const help = plantwatt([command ?? '', '--help'])
    for (const option of args.filter((a) => a.startsWith('--'))) expect(help).toContain(option)
    expect(text).toMatch(/^User=plantwatt$/m)
    expect(text).toMatch(/^StateDirectory=plantwatt$/m)
    expect(text).toMatch(/^ProtectSystem=strict$/m)
  })

  it('the sample service config passes plantwatt check, with every path absolute', () => {
    expect(plantwatt(['check', '-c', join(ROOT, 'deploy', 'plantwatt.yaml')])).toContain(': ok')
    const yaml = readFileSync(join(ROOT, 'deploy', 'plantwatt.yaml'), 'utf8')
    for (const m of yaml.matchAll(/^\s*(path|bufferDir|deadLetterFile): (.*)$/gm)) expect(m[2]).toMatch(/^\/var\/(lib|log)\/plantwatt\//)
  })
})
