import { describe, expect, it } from 'vitest'
import type { TelemetryPoint } from '../storage/store.ts'
import type { ResolvedDevice } from './device-resolver.ts'
import type { ImportRowError } from './row-verdict.ts'
import { ScanTally } from './scan-tally.ts'

const device = (key: string): ResolvedDevice => {
  const [enterprise, site, line, id] = key.split('/') as [string, string, string, string]
  const address = { enterprise, site, line, device: id }
  return { address, key, tags: address, timezone: 'UTC' }
}
const point = (ts: number): TelemetryPoint => ({ measurement: 'telemetry', tags: {}, fields: { active_power_kw: 1 }, ts })

describe('ScanTally', () => {
  it('counts good rows, their devices, first and last instant, gaps and midnight shifts; hands out non-empty points', async () => {
    const batches: TelemetryPoint[][] = []
    const tally = new ScanTally({ onPoints: (p) => void batches.push(p) })
    await tally.add(2, { kind: 'good', device: device('a/s/l/m1'), ts: 2000, points: [point(2000)] })
    await tally.add(3, { kind: 'good', device: device('a/s/l/m1'), ts: 1000, points: [], gap: true })
    await tally.add(4, { kind: 'good', device: device('a/s/l/m2'), ts: 3000, points: [point(3000)], midnightShifted: true })
    await tally.add(5, { kind: 'passed' })
    tally.row()
    expect(tally.stats).toEqual({ rows: 1, good: 3, gaps: 1, midnightShifted: 1, devices: new Set(['a/s/l/m1', 'a/s/l/m2']), first: 1000, last: 3000 })
    expect(batches).toEqual([[point(2000)], [point(3000)]])
  })

  it('reports bad rows with their line and waits for the points to be taken', async () => {
    const errors: ImportRowError[] = []
    let release: () => void = () => {}
    const tally = new ScanTally({ onError: (e) => errors.push(e), onPoints: () => new Promise<void>((r) => (release = r)) })
    await tally.add(7, { kind: 'bad', problem: { column: 'value', code: 'IMPORT_ERR_VALUE', message: '"x" is not a number' } })
    expect(errors).toEqual([{ line: 7, column: 'value', code: 'IMPORT_ERR_VALUE', message: '"x" is not a number' }])
    let done = false
    const adding = tally.add(8, { kind: 'good', device: device('a/s/l/m1'), ts: 1, points: [point(1)] }).then(() => (done = true))
    await Promise.resolve()
    expect(done).toBe(false)
    release()
    await adding
    expect(done).toBe(true)
    expect(tally.stats.good).toBe(1)
  })

  it('takes back a row counted good: one good fewer, its device gone, the row reported', async () => {
    const errors: ImportRowError[] = []
    const tally = new ScanTally({ onError: (e) => errors.push(e) })
    await tally.add(2, { kind: 'good', device: device('a/s/l/m1'), ts: 1, points: [] })
    await tally.add(3, { kind: 'good', device: device('a/s/l/m2'), ts: 1, points: [] })
    tally.retract({ deviceKey: 'a/s/l/m2', line: 3, problem: { column: 'timestamp', code: 'IMPORT_ERR_INTERVAL', message: 'lone' } })
    expect(tally.stats.good).toBe(1)
    expect([...tally.stats.devices]).toEqual(['a/s/l/m1'])
    expect(errors).toEqual([{ line: 3, column: 'timestamp', code: 'IMPORT_ERR_INTERVAL', message: 'lone' }])
  })
})
