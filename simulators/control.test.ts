import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startFaultControl, type FaultControl } from './control.ts'
import { startScenario, type RunningScenario } from './scenario/run.ts'
import { parseScenario } from './scenario/schema.ts'

const MONDAY_10H = Date.UTC(2026, 0, 5, 2, 0)
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const scenario = () =>
  parseScenario({
    name: 'ctl',
    seed: 5,
    enterprises: [
      {
        id: 'ent',
        sites: [
          {
            id: 'site',
            lines: [
              {
                id: 'kiln',
                loadShape: 'continuous',
                ratedKw: 1000,
                idleFraction: 0.1,
                lossFraction: 0.04,
                product: { id: 'clinker', unit: 't', benchmark: 'clinker-electricity', secTarget: 'benchmark' },
                productionDevice: 'dcs',
                mainMeter: { id: 'main', profile: 'eastron-sdm630' },
                subMeters: [{ id: 'fan', share: 0.96, profile: 'eastron-sdm630' }],
                machines: [{ id: 'cnc-01', kind: 'cnc', ratedKw: 40 }],
              },
            ],
          },
        ],
      },
    ],
    faults: [{ device: 'ent/site/kiln/fan', kind: 'spike', start: MONDAY_10H - 3_600_000, end: MONDAY_10H - 1_800_000, deltaKw: 50 }],
  })

async function setup(): Promise<{ run: RunningScenario; ctl: FaultControl; setNow: (t: number) => void; truth: () => unknown[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-control-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const gt = join(dir, 'truth.jsonl')
  let now = MONDAY_10H
  const run = await startScenario(scenario(), { clock: () => now, updateIntervalMs: 0, groundTruthFile: gt })
  cleanups.push(() => run.close())
  const ctl = await startFaultControl(run, { host: '127.0.0.1', port: 0 })
  cleanups.push(() => ctl.close())
  const truth = () =>
    readFileSync(gt, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown)
  return {
    run,
    ctl,
    setNow: (t) => {
      now = t
    },
    truth,
  }
}

const post = (url: string, body: unknown) =>
  fetch(`${url}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })

describe('fault control endpoint', () => {
  it('lists, injects (the fault acts on the device), and ends faults', async () => {
    const { run, ctl, setNow, truth } = await setup()
    expect(ctl.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const listed = await (await fetch(`${ctl.url}/faults`)).json()
    expect(listed).toEqual([
      { id: 1, device: 'ent/site/kiln/fan', kind: 'spike', start: MONDAY_10H - 3_600_000, end: MONDAY_10H - 1_800_000, parameters: { deltaKw: 50 } },
    ])

    const fan = run.meters.find((m) => m.key === 'ent/site/kiln/fan')!
    const before = fan.tick().values.active_power_kw
    const res = await post(ctl.url, { device: 'ent/site/kiln/fan', kind: 'step', deltaKw: 400 })
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe('/faults/2')
    const created = await res.json()
    // start defaults to the run's clock now
    expect(created).toEqual({ id: 2, device: 'ent/site/kiln/fan', kind: 'step', start: MONDAY_10H, end: null, parameters: { deltaKw: 400 } })
    expect(run.faults().map((f) => f.id)).toEqual([1, 2])
    expect(fan.tick().values.active_power_kw - before).toBeGreaterThan(380)
    expect(truth()).toHaveLength(2)

    // A PLC can be taken offline from the endpoint with an explicit ISO start and end.
    const off = await post(ctl.url, { device: 'ent/site/kiln/dcs', kind: 'offline', start: '2026-01-05T12:00:00+08:00', end: '2026-01-05T13:00:00+08:00' })
    expect(off.status).toBe(201)
    expect(await off.json()).toMatchObject({ id: 3, kind: 'offline', start: Date.UTC(2026, 0, 5, 4), end: Date.UTC(2026, 0, 5, 5) })

    // DELETE ends the open step at the clock's now; the device goes back to its load.
    setNow(MONDAY_10H + 600_000)
    const del = await fetch(`${ctl.url}/faults/2`, { method: 'DELETE' })
    expect(del.status).toBe(200)
    expect(await del.json()).toMatchObject({ id: 2, end: MONDAY_10H + 600_000 })
    expect(fan.tick().values.active_power_kw).toBeLessThan(before + 100)
    expect(truth()).toMatchObject([{ id: 1 }, { id: 2, end: MONDAY_10H + 600_000, endIso: '2026-01-05T02:10:00.000Z' }, { id: 3 }])
    // Ending it again, one that has not started, or one that does not exist.
    expect((await fetch(`${ctl.url}/faults/2`, { method: 'DELETE' })).status).toBe(409)
    expect((await fetch(`${ctl.url}/faults/3`, { method: 'DELETE' })).status).toBe(409)
    expect((await fetch(`${ctl.url}/faults/1`, { method: 'DELETE' })).status).toBe(409)
    const missing = await fetch(`${ctl.url}/faults/99`, { method: 'DELETE' })
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: string }).error).toMatch(/no fault 99/)
  })

  it('answers 400 listing every problem, naming unknown devices; nothing is injected', async () => {
    const { run, ctl } = await setup()
    const bad = await post(ctl.url, { device: 'ent/site/kiln/nope', kind: 'wobble', start: 'yesterday', deltaKw: 'a lot', colour: 'red' })
    expect(bad.status).toBe(400)
    const body = (await bad.json()) as { error: string; problems: { path: string; message: string }[] }
    const paths = body.problems.map((p) => p.path)
    expect(paths).toEqual(expect.arrayContaining(['/kind', '/deltaKw', '/colour', '/device', '/start']))
    expect(body.problems.find((p) => p.path === '/device')!.message).toContain('ent/site/kiln/nope')

    const unknown = await post(ctl.url, { device: 'ent/site/kiln/ghost', kind: 'offline' })
    expect(unknown.status).toBe(400)
    const u = (await unknown.json()) as { error: string; problems: { path: string; message: string }[] }
    expect(u.problems).toEqual([{ path: '/device', message: 'no device ent/site/kiln/ghost' }])
    expect(u.error).toContain('ent/site/kiln/ghost')
    // Machines are not fault targets.
    expect((await post(ctl.url, { device: 'ent/site/kiln/cnc-01', kind: 'offline' })).status).toBe(400)
    // Missing parameter, bad end, not JSON, not an object.
    const step = await post(ctl.url, { device: 'ent/site/kiln/fan', kind: 'step', start: MONDAY_10H, end: MONDAY_10H - 1 })
    expect(((await step.json()) as { problems: { path: string }[] }).problems.map((p) => p.path).sort()).toEqual(['/deltaKw', '/end'])
    expect((await post(ctl.url, '{"device":')).status).toBe(400)
    expect((await post(ctl.url, [1, 2])).status).toBe(400)
    expect(run.faults()).toHaveLength(1)
    expect((await fetch(`${ctl.url}/nothing`)).status).toBe(404)
    expect((await fetch(`${ctl.url}/faults`, { method: 'PUT' })).status).toBe(405)
  })
})
