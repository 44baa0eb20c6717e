import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { SimMeter } from '../../simulators/dlt645/meter.ts'
import { type Dlt645Simulator, startDlt645Simulator } from '../../simulators/dlt645/server.ts'
import { requireCommand } from '../../test/system.ts'
import { ModbusDeviceSchema, type EdgeDeviceConfig } from '../config.ts'
import { createDlt645Driver } from './driver.ts'
import { loadDlt645Profile } from './profile.ts'
import { type PtyPair, ptyPairAt as ptyPair } from '../testing/pty-pair.ts'

/** Several meters on one serial line (socat pty pair) served by the 645 simulator; every fault it can make. */

const A = '000000000001'
const B = '000000000002'
const C = '000000000003'
const OLD = '000000001997'
const device = (name: string, dlt645: Record<string, unknown>, profile = 'dlt645-2007-generic'): EdgeDeviceConfig =>
  validateConfig(
    ModbusDeviceSchema,
    { enterprise: 'e', site: 's', line: 'l', device: name, driver: 'dlt645', profile, retries: 0, dlt645 },
    'test',
  ) as EdgeDeviceConfig

let pty: PtyPair
let sim: Dlt645Simulator
let dir: string
const meters = {
  a: new SimMeter({ address: A }),
  b: new SimMeter({ address: B, values: { energy_import_kwh: 777.77 } }),
  c: new SimMeter({ address: C }),
  old: new SimMeter({ address: OLD, protocol: '1997' }),
}

beforeAll(async () => {
  requireCommand('socat', 'socat')
  dir = mkdtempSync(join(tmpdir(), 'pw-dlt645-'))
  pty = ptyPair(join(dir, 'ttyA'), join(dir, 'ttyB'))
  await pty.up()
  sim = await startDlt645Simulator({ meters: Object.values(meters), serial: { path: pty.b }, replyPreamble: 4 })
})

afterAll(async () => {
  await sim?.close()
  await pty?.down()
  rmSync(dir, { recursive: true, force: true })
})

const open = async (address: string, profile?: string, timeoutMs = 300) => {
  const d = createDlt645Driver(
    device(`m${address.slice(-2)}`, { path: pty.a, address, timeoutMs }, profile),
    loadDlt645Profile(profile ?? 'dlt645-2007-generic'),
  )
  await d.connect(AbortSignal.timeout(5000))
  return d
}

describe('dlt645 driver on a shared serial bus', () => {
  it('reads three meters on one line, each its own values, never interleaved', async () => {
    const drivers = await Promise.all([A, B, C].map((a) => open(a)))
    const results = await Promise.all(drivers.map((d) => d.read(AbortSignal.timeout(10_000))))
    for (const r of results) expect(r.errors).toEqual([])
    expect(results[0]?.values.energy_import_kwh).toBe(12345.67)
    expect(results[1]?.values.energy_import_kwh).toBe(777.77)
    expect(results[0]?.values).toMatchObject({
      current_l3_a: -0.512,
      reactive_power_kvar: -1.2345,
      power_factor: 0.982,
      frequency_hz: 50.01,
      max_demand_import_kw: 12.3456,
      energy_import_tariff4_kwh: 2345.61,
    })
    // 2007 generic: 31 values from 11 requests (four energy blocks of total + tariffs 1–4).
    expect(Object.keys(results[2]?.values ?? {})).toHaveLength(31)
    // The tariffs of each block add up to its total (the simulator's values: 1.01 + 5.02 + 4.03 + 2.28 = 12.34 …).
    expect(results[0]?.values).toMatchObject({
      energy_export_kwh: 12.34,
      energy_export_tariff1_kwh: 1.01,
      energy_export_tariff4_kwh: 2.28,
      reactive_energy_import_kvarh: 3456.78,
      reactive_energy_import_tariff2_kvarh: 1500.22,
      reactive_energy_export_kvarh: 123.45,
      reactive_energy_export_tariff3_kvarh: 40.03,
    })
    // strictly one request at a time: no request met another on the line (no collision, no bad frame)
    expect(sim.stats().badFrames).toBe(0)
    for (const d of drivers) await d.close()
  })

  it('reads a DL/T 645-1997 meter (2-byte identifiers, C=0x01 / 0x81) on the same line', async () => {
    const d = await open(OLD, 'dlt645-1997-generic')
    const r = await d.read(AbortSignal.timeout(10_000))
    expect(r.errors).toEqual([])
    expect(r.values).toMatchObject({
      energy_import_kwh: 12345.67,
      energy_import_tariff2_kwh: 4000.02,
      energy_export_tariff3_kwh: 4.03,
      reactive_energy_import_kvarh: 3456.78,
      reactive_energy_import_tariff1_kvarh: 300.11,
      reactive_energy_export_tariff4_kvarh: 23.39,
      voltage_l1_v: 230,
      current_l1_a: 10.12,
      active_power_kw: 6.5432,
      reactive_power_kvar: 1.23,
      power_factor: 0.982,
    })
    await d.close()
  })

  const faults = [
    { fault: { kind: 'checksum' }, code: 'EDGE_ERR_CHECKSUM', stat: 'checksum' },
    { fault: { kind: 'truncate' }, code: 'EDGE_ERR_FRAME', stat: 'truncated' },
    { fault: { kind: 'wrong-address', address: '000000009999' }, code: 'EDGE_ERR_ADDRESS', stat: 'wrongAddress' },
    { fault: { kind: 'wrong-address', address: B }, code: 'EDGE_ERR_ADDRESS', stat: 'wrongAddress' }, // meter A answering as meter B
    { fault: { kind: 'error-word', word: 0x02 }, code: 'EDGE_ERR_METER_EXCEPTION', stat: 'exceptions' },
    { fault: { kind: 'bad-bcd' }, code: 'EDGE_ERR_BCD', stat: 'bcd' },
  ] as const
  for (const { fault, code, stat } of faults) {
    it(`${fault.kind}${'address' in fault ? ` ${fault.address}` : ''}: the points of that identifier are bad with ${code}, counted; the others good`, async () => {
      const d = await open(A)
      meters.a.setFault(fault, ['0201FF00'])
      try {
        const r = await d.read(AbortSignal.timeout(10_000))
        for (const q of ['voltage_l1_v', 'voltage_l2_v', 'voltage_l3_v']) {
          expect(r.quality[q], q).toBe('bad')
          expect(r.values[q], q).toBeUndefined()
          expect(r.errors.find((e) => e.point === q)?.code).toBe(code)
        }
        expect(r.errors).toHaveLength(3)
        expect(r.values.energy_import_kwh).toBe(12345.67)
        expect(Object.keys(r.values)).toHaveLength(28)
        expect(d.wireCounts()[stat]).toBeGreaterThanOrEqual(1)
      } finally {
        meters.a.clearFaults()
      }
      // the next poll is good again
      expect((await d.read(AbortSignal.timeout(10_000))).errors).toEqual([])
      await d.close()
    })
  }

  it('noise before a reply: a stray 68 is passed over and the frame after it read, counted as resynced', async () => {
    const d = await open(A)
    // 68 00 01 …: no second 68 seven bytes on, so not a frame start.
    meters.a.setFault({ kind: 'noise', bytes: [0x68, 0x00, 0x01, 0x02] }, ['0201FF00', '0001FF00'])
    try {
      const r = await d.read(AbortSignal.timeout(10_000))
      expect(r.errors).toEqual([])
      expect(r.values).toMatchObject({ voltage_l1_v: 230.1, voltage_l3_v: 231.2, energy_import_kwh: 12345.67 })
      expect(d.wireCounts()).toMatchObject({ resynced: 2, malformed: 0, truncated: 0 })
    } finally {
      meters.a.clearFaults()
    }
    await d.close()
  })

  it('an address no meter has: EDGE_ERR_TIMEOUT after the first request, and the line is free for the others', async () => {
    const d = await open('000000000042')
    const t0 = performance.now()
    const err = await d.read(AbortSignal.timeout(10_000)).catch((e: unknown) => e)
    expect(isPlantWattError(err, 'EDGE_ERR_TIMEOUT')).toBe(true)
    expect(performance.now() - t0).toBeLessThan(300 + 1500)
    const ok = await open(B)
    expect((await ok.read(AbortSignal.timeout(10_000))).values.energy_import_kwh).toBe(777.77)
    await ok.close()
    await d.close()
  })

  it('address discovery with AAAAAAAAAAAA refuses a bus with several meters (replies collide) with a coded error', async () => {
    const d = createDlt645Driver(device('disc', { path: pty.a, address: 'discover', timeoutMs: 300 }), loadDlt645Profile('dlt645-2007-generic'))
    const err = await d.connect(AbortSignal.timeout(5000)).catch((e: unknown) => e)
    expect(isPlantWattError(err, 'EDGE_ERR_DISCOVER')).toBe(true)
    expect(d.meterAddress).toBeUndefined()
  })
})

describe('dlt645 address discovery (one meter on a DTU)', () => {
  it('finds the single meter by the wildcard address and reads it', async () => {
    const only = new SimMeter({ address: '202601120042' })
    const dtu = await startDlt645Simulator({ meters: [only], tcp: { port: 0 } })
    try {
      const d = createDlt645Driver(
        device('disc', { transport: 'tcp', host: '127.0.0.1', port: dtu.port, address: 'discover' }, 'chint-ddsu666-dlt645'),
        loadDlt645Profile('chint-ddsu666-dlt645'),
      )
      expect(d.endpoint).toBe(`dlt645-tcp://127.0.0.1:${dtu.port} meter discover`)
      await d.connect(AbortSignal.timeout(5000))
      expect(d.meterAddress).toBe('202601120042')
      const r = await d.read(AbortSignal.timeout(5000))
      expect(r.errors).toEqual([])
      expect(r.values).toMatchObject({ energy_import_kwh: 12345.67, voltage_l1_v: 230.1, current_l1_a: 10.123 })
      await d.close()
    } finally {
      await dtu.close()
    }
  })
})
