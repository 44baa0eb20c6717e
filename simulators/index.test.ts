import net from 'node:net'
import { fileURLToPath } from 'node:url'
import ModbusRTU from 'modbus-serial'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfigFile, validateConfig, type ConfigProblem } from '../core/config.ts'
import { isPlantWattError, PlantWattError } from '../core/errors.ts'
import { SimConfigSchema, startSimulation, type Simulation } from './index.ts'

type Client = InstanceType<typeof ModbusRTU.default>
const NOW = Date.UTC(2024, 0, 1, 3, 0) // Monday 11:00 in Shanghai

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

async function readTotalW(host: string, port: number, unitId: number): Promise<number> {
  const client: Client = new ModbusRTU.default()
  await client.connectTCP(host, { port })
  client.setID(unitId)
  try {
    return (await client.readInputRegisters(0x34, 2)).buffer.readFloatBE(0)
  } finally {
    await new Promise<void>((resolve) => client.close(() => resolve()))
  }
}

function problemsOf(fn: () => unknown): ConfigProblem[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof PlantWattError && err.code === 'CORE_ERR_CONFIG') return err.details as ConfigProblem[]
    throw err
  }
  throw new Error('expected CORE_ERR_CONFIG')
}

describe('simulation config', () => {
  it('fills the documented defaults', () => {
    const cfg = validateConfig(SimConfigSchema, { meters: [{ id: 'm1', profile: 'eastron-sdm630', ratedKw: 100 }] })
    expect(cfg).toEqual({
      seed: 1,
      timezone: 'Asia/Shanghai',
      updateIntervalMs: 1000,
      meters: [{ id: 'm1', profile: 'eastron-sdm630', host: '127.0.0.1', port: 0, unitId: 1, ratedKw: 100, startEnergyKwh: 0 }],
    })
  })

  it('names every bad key', () => {
    const problems = problemsOf(() =>
      validateConfig(SimConfigSchema, { colour: 'red', meters: [{ id: 'Bad/Id', profile: 'chint-dtsu999', ratedKw: 0, unitId: 0 }] }),
    )
    expect([...new Set(problems.map((p) => p.path))].sort()).toEqual(['/colour', '/meters/0/id', '/meters/0/profile', '/meters/0/ratedKw', '/meters/0/unitId'])
  })

  it('accepts the sample config', () => {
    const cfg = loadConfigFile(SimConfigSchema, fileURLToPath(new URL('./sim.example.yaml', import.meta.url)))
    expect(cfg.meters.map((m) => [m.id, m.port, m.unitId])).toEqual([
      ['line1-main', 5020, 1],
      ['line1-furnace', 5020, 2],
    ])
  })
})

describe('startSimulation', () => {
  let sim: Simulation | undefined
  afterEach(async () => {
    await sim?.close()
    sim = undefined
  })

  it('starts meters on free ports, each with its own seed, and closes them all', async () => {
    sim = await startSimulation(
      {
        seed: 4,
        timezone: 'Asia/Shanghai',
        updateIntervalMs: 0,
        meters: [
          { id: 'a', profile: 'eastron-sdm630', host: '127.0.0.1', port: 0, unitId: 1, ratedKw: 500, startEnergyKwh: 0 },
          { id: 'b', profile: 'eastron-sdm630', host: '127.0.0.1', port: 0, unitId: 3, ratedKw: 500, startEnergyKwh: 0 },
        ],
      },
      { clock: () => NOW },
    )
    const [a, b] = sim.meters
    expect(a?.id).toBe('a')
    expect(b?.unitId).toBe(3)
    expect(a?.port).toBeGreaterThan(0)
    expect(b?.port).not.toBe(a?.port)
    const wa = await readTotalW('127.0.0.1', a?.port ?? 0, 1)
    const wb = await readTotalW('127.0.0.1', b?.port ?? 0, 3)
    expect(wa).toBe(Math.fround((a?.meter.snapshot().values.active_power_kw ?? 0) * 1000))
    expect(wb).toBe(Math.fround((b?.meter.snapshot().values.active_power_kw ?? 0) * 1000))
    // Same rating and instant, different ids: different noise, same shape (within ±4 %).
    expect(wa).not.toBe(wb)
    expect(Math.abs(wa - wb) / wa).toBeLessThan(0.04)
    const ports = [a?.port ?? 0, b?.port ?? 0]
    await sim.close()
    sim = undefined
    for (const port of ports) await expect(readTotalW('127.0.0.1', port, 1)).rejects.toThrow()
  })

  it('serves meters that share a port by unit id', async () => {
    const port = await freePort()
    sim = await startSimulation(
      {
        seed: 1,
        timezone: 'Asia/Shanghai',
        updateIntervalMs: 0,
        meters: [
          { id: 'small', profile: 'eastron-sdm630', host: '127.0.0.1', port, unitId: 1, ratedKw: 10, startEnergyKwh: 0 },
          { id: 'big', profile: 'eastron-sdm630', host: '127.0.0.1', port, unitId: 2, ratedKw: 1000, startEnergyKwh: 0 },
        ],
      },
      { clock: () => NOW },
    )
    expect(sim.meters.map((m) => m.port)).toEqual([port, port])
    const small = await readTotalW('127.0.0.1', port, 1)
    const big = await readTotalW('127.0.0.1', port, 2)
    expect(big / small).toBeGreaterThan(90)
    expect(big / small).toBeLessThan(110)
  })

  it('refuses duplicate ids and a unit id used twice on one port', async () => {
    const m = { profile: 'eastron-sdm630' as const, host: '127.0.0.1', port: 0, unitId: 1, ratedKw: 5, startEnergyKwh: 0 }
    const base = { seed: 1, timezone: 'Asia/Shanghai', updateIntervalMs: 0 }
    for (const meters of [
      [
        { ...m, id: 'x' },
        { ...m, id: 'x' },
      ],
      [
        { ...m, id: 'x', port: 5999 },
        { ...m, id: 'y', port: 5999 },
      ],
    ]) {
      let err: unknown
      try {
        sim = await startSimulation({ ...base, meters })
      } catch (e) {
        err = e
      }
      expect(isPlantWattError(err, 'SIM_ERR_CONFIG')).toBe(true)
    }
  })

  it('reports a port already in use as SIM_ERR_LISTEN and leaves nothing running', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()))
    const busy = (blocker.address() as net.AddressInfo).port
    const free = await freePort()
    let err: unknown
    try {
      sim = await startSimulation({
        seed: 1,
        timezone: 'Asia/Shanghai',
        updateIntervalMs: 0,
        meters: [
          { id: 'ok', profile: 'eastron-sdm630', host: '127.0.0.1', port: free, unitId: 1, ratedKw: 5, startEnergyKwh: 0 },
          { id: 'clash', profile: 'eastron-sdm630', host: '127.0.0.1', port: busy, unitId: 1, ratedKw: 5, startEnergyKwh: 0 },
        ],
      })
    } catch (e) {
      err = e
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }
    expect(isPlantWattError(err, 'SIM_ERR_LISTEN')).toBe(true)
    expect((err as Error).message).toContain('clash')
    await expect(readTotalW('127.0.0.1', free, 1)).rejects.toThrow()
  })
})
