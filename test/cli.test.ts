import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const BIN = join(import.meta.dirname, '..', 'bin', 'plantwatt.js')
const tmp = mkdtempSync(join(tmpdir(), 'pw-cli-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Resolves with the text printed so far once `pattern` appears on stdout. */
function waitForOutput(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`)), timeoutMs)
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (pattern.test(out)) {
        clearTimeout(timer)
        resolve(out)
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code} before ${pattern}; stdout: ${out}; stderr: ${err}`))
    })
  })
}

describe('plantwatt CLI', () => {
  it('documents every command and its config keys in --help', () => {
    const top = run(['--help'])
    expect(top.status).toBe(0)
    for (const cmd of ['up', 'broker', 'edge', 'ingest', 'api', 'sim', 'check', 'bench', 'alerts', 'import']) expect(top.stdout).toContain(cmd)
    const broker = run(['broker', '--help'])
    expect(broker.status).toBe(0)
    expect(broker.stdout).toContain('--port <port>')
    expect(broker.stdout).toMatch(/broker\.port\s+integer \(default 1883\)/)
    const edge = run(['edge', '--help'])
    expect(edge.stdout).toContain('edge.devices[].connection.host')
  })

  it('reports every problem of a bad config file at once, with paths, and exits 1', () => {
    const file = join(tmp, 'two-errors.yaml')
    writeFileSync(file, 'broker:\n  port: 70000\napi:\n  colour: blue\n')
    const r = run(['check', '-c', file])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('CORE_ERR_CONFIG')
    expect(r.stderr).toContain('2 problem(s)')
    expect(r.stderr).toContain('/broker/port')
    expect(r.stderr).toContain('/api/colour')
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/) // no stack trace
  })

  it('accepts the shipped demo and sample configs', () => {
    for (const file of ['examples/demo.yaml']) {
      const r = run(['check', '-c', join(import.meta.dirname, '..', file)])
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
    }
  })

  it('`up` serves live values of every simulated meter within 10 s and stops cleanly on Ctrl-C', async () => {
    const child = spawn(process.execPath, [BIN, 'up', '--api-port', '0', '--broker-port', '0', '--store-path', join(tmp, 'up.db')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    try {
      const out = await waitForOutput(child, /Press Ctrl-C to stop/, 30_000)
      const api = /Live values\s+(http:\/\/\S+)\/api\/v1\/live/.exec(out)?.[1]
      expect(api).toBeDefined()
      expect(out).toMatch(/Simulator\s+main-meter\s+modbus-tcp:\/\/127\.0\.0\.1:\d+/)
      const started = Date.now()
      let devices: { device: string; values: Record<string, number> }[] = []
      while (Date.now() - started < 10_000) {
        const res = await fetch(`${api}/api/v1/live`)
        devices = ((await res.json()) as { devices: typeof devices }).devices
        if (devices.length === 2 && devices.every((d) => typeof d.values.active_power_kw === 'number')) break
        await new Promise((r) => setTimeout(r, 250))
      }
      expect(devices.map((d) => d.device).sort()).toEqual(['main-meter', 'mill-drive'])
      for (const d of devices) {
        expect(d.values.frequency_hz).toBeGreaterThan(49.5)
        expect(d.values.frequency_hz).toBeLessThan(50.5)
        expect(d.values.energy_import_kwh).toBeGreaterThanOrEqual(0)
      }
      const page = await (await fetch(`${api}/`)).text()
      expect(page).toContain('src="/ui/app.js"')
      const script = await (await fetch(`${api}/ui/app.js`)).text()
      expect(script).toContain('live?')
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
      child.kill('SIGINT')
      expect(await exited).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })

  it('`npm start` (up --scenario hubei with history): three enterprises live, OPC UA machines, reports over the history, clean stop', async () => {
    // package.json "start" with ports 0, a temporary store and 2 days of history instead of 35 (time).
    const start = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')).scripts.start as string
    expect(start).toBe('node bin/plantwatt.js up --scenario hubei --history-days 35')
    const child = spawn(
      process.execPath,
      [
        BIN,
        'up',
        '--scenario',
        'hubei',
        '--history-days',
        '2',
        '--api-port',
        '0',
        '--broker-port',
        '0',
        '--store-path',
        join(tmp, 'start.db'),
        '--opcua-dir',
        join(tmp, 'opcua'),
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    try {
      const out = await waitForOutput(child, /Press Ctrl-C to stop/, 120_000)
      const api = /Web UI\s+(http:\/\/\S+)\//.exec(out)?.[1]
      expect(api).toBeDefined()
      expect(out).toMatch(/OPC UA\s+opc\.tcp:\/\/127\.0\.0\.1:\d+/)
      let live: { enterprise: string; device: string; values: Record<string, number> }[] = []
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        live = ((await (await fetch(`${api}/api/v1/live`)).json()) as { devices: typeof live }).devices
        if (new Set(live.map((d) => d.enterprise)).size === 3 && live.some((d) => d.values.machine_state !== undefined)) break
        await new Promise((r) => setTimeout(r, 500))
      }
      expect([...new Set(live.map((d) => d.enterprise))].sort()).toEqual(['edong-cement', 'hanjiang-autoparts', 'jiangcheng-steel'])
      // A machine polled over OPC UA reports its state (0..3).
      const machine = live.find((d) => d.values.machine_state !== undefined)
      expect(machine?.values.machine_state).toBeGreaterThanOrEqual(0)
      expect(machine?.values.machine_state).toBeLessThanOrEqual(3)
      // The history is there: yesterday's energy of the 5000 t/d clinker line (12.5 MW rated, ~92 % load) is
      // of the order of 12.5 MW × 0.92 × 24 h ≈ 276 MWh, fully covered.
      const day = new Date(Date.now() - 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10)
      const energy = (await (
        await fetch(`${api}/api/v1/energy?scope=edong-cement/huangshi/clinker-1&start=${day}&stop=${day}T23:59:59&granularity=total`)
      ).json()) as { energyKwh: number; coverage: number }
      expect(energy.energyKwh).toBeGreaterThan(200_000)
      expect(energy.energyKwh).toBeLessThan(320_000)
      expect(energy.coverage).toBeGreaterThan(0.99)
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
      child.kill('SIGINT')
      expect(await exited).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })
})
