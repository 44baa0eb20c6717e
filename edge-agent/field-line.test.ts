import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { SimCjt188Meter } from '../simulators/cjt188/meter.ts'
import { SimMeter } from '../simulators/dlt645/meter.ts'
import { startFieldLineSimulator } from '../simulators/field-line.ts'
import { requireCommand } from '../test/system.ts'
import { type EdgeDeviceConfig, ModbusDeviceSchema } from './config.ts'
import type { Driver, ReadResult } from './driver.ts'
import { createDriver } from './drivers.ts'
import { type PtyPair, ptyPairAt } from './testing/pty-pair.ts'

/**
 * A DL/T 645 meter and a CJ/T 188 meter on one line — a socat pty pair, then one DTU — polled at
 * once by their two drivers: one link, one request on the wire at a time (the simulator counts a
 * request that arrives while a meter is still answering), and both meters' values right.
 */

type Link = { transport: 'serial'; path: string } | { transport: 'tcp'; host: string; port: number }

const device = (name: string, driver: 'dlt645' | 'cjt188', profile: string, section: Record<string, unknown>): EdgeDeviceConfig =>
  validateConfig(
    ModbusDeviceSchema,
    { enterprise: 'e', site: 's', line: 'l', device: name, driver, profile, retries: 0, [driver]: section },
    'test',
  ) as EdgeDeviceConfig

let dir: string
let pty: PtyPair

beforeAll(async () => {
  requireCommand('socat', 'socat')
  dir = mkdtempSync(join(tmpdir(), 'pw-field-line-'))
  pty = ptyPairAt(join(dir, 'ttyA'), join(dir, 'ttyB'))
  await pty.up()
})

afterAll(async () => {
  await pty?.down()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function pollMixedLine(link: (port: number | undefined) => Link, serial: boolean) {
  const electricity = new SimMeter({ address: '000000000645', values: { energy_import_kwh: 4321.09 } })
  const water = new SimCjt188Meter({ kind: 'water', address: '00000000000188', startHundredths: 987_654 })
  const sim = await startFieldLineSimulator({
    dlt645: [electricity],
    cjt188: [water],
    replyDelayMs: 5,
    ...(serial ? { serial: { path: pty.b } } : { tcp: { port: 0 } }),
  })
  const at = link(sim.port)
  const drivers: Driver[] = [
    createDriver(device('meter', 'dlt645', 'dlt645-2007-generic', { ...at, address: '000000000645', timeoutMs: 1000 })),
    createDriver(device('water', 'cjt188', 'cjt188-water', { ...at, address: '00000000000188', timeoutMs: 1000 })),
  ]
  try {
    for (const d of drivers) await d.connect(AbortSignal.timeout(5000))
    const results: ReadResult[][] = [[], []]
    // Both drivers poll at once, three rounds: their requests go through one FIFO.
    for (let round = 0; round < 3; round++) {
      const [e, w] = await Promise.all(drivers.map((d) => d.read(AbortSignal.timeout(20_000))))
      results[0]?.push(e as ReadResult)
      results[1]?.push(w as ReadResult)
    }
    for (const r of results[0] ?? []) {
      expect(r.errors).toEqual([])
      expect(r.values.energy_import_kwh).toBe(4321.09)
      expect(r.values.voltage_l1_v).toBe(230.1)
    }
    for (const r of results[1] ?? []) {
      expect(r.errors).toEqual([])
      expect(r.values.water_m3).toBe(9876.54)
    }
    const stats = sim.stats()
    // dlt645-2007-generic: 11 identifiers per poll; the water meter one 901F per poll.
    expect(stats).toMatchObject({ dlt645Requests: 33, cjt188Requests: 3, replies: 36, collisions: 0 })
    return stats
  } finally {
    for (const d of drivers) await d.close()
    await sim.close()
  }
}

describe('a DL/T 645 and a CJ/T 188 meter on one line', () => {
  it('on one serial port (pty): one open port, both read, requests never overlap', async () => {
    await pollMixedLine(() => ({ transport: 'serial', path: pty.a }), true)
  })

  it('behind one DTU: one TCP connection, both read, requests never overlap', async () => {
    const stats = await pollMixedLine((port) => ({ transport: 'tcp', host: '127.0.0.1', port: port ?? 0 }), false)
    expect(stats.connections).toBe(1)
  })
})
