import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { SimCjt188Meter } from '../../simulators/cjt188/meter.ts'
import { type Cjt188Server, startCjt188Server } from '../../simulators/cjt188/server.ts'
import { type EdgeDeviceConfig, ModbusDeviceSchema } from '../config.ts'
import type { Driver, ReadResult } from '../driver.ts'
import { createDriver } from '../drivers.ts'
import { type PtyPair, ptyPair } from '../testing/pty-pair.ts'
import { wireCountsOf } from '../wire-counts.ts'

/**
 * Several meters on one bus, strictly one request at a time, and every kind of bad reply a real
 * line produces: wrong checksums, truncated frames, a meter answering for another address, BCD
 * digits out of range, abnormal replies, status bits, silence and a wrong configured address. Each
 * is a coded error and bad quality on the meter concerned only; never a crash, never a wrong good value.
 */

const W = '00000000101001'
const G = '00000000301002'
const H = '00000000201003'

type Transport = { transport: 'serial'; path: string } | { transport: 'tcp'; host: string; port: number }

function device(name: string, profile: string, address: string, link: Transport, over: Record<string, unknown> = {}): EdgeDeviceConfig {
  return validateConfig(
    ModbusDeviceSchema,
    { enterprise: 'e', site: 's', line: 'l', device: name, driver: 'cjt188', profile, retries: 0, cjt188: { ...link, address, timeoutMs: 400, ...over } },
    'test',
  ) as EdgeDeviceConfig
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (isPlantWattError(err)) return err.code
    throw err
  }
  return 'resolved'
}

for (const kind of ['serial', 'tcp'] as const) {
  describe(`CJ/T 188 bus with water, gas and heat meters (${kind === 'serial' ? 'socat pty pair' : 'DTU over TCP'})`, () => {
    let pty: PtyPair | undefined
    let server: Cjt188Server
    let link: Transport
    const water = new SimCjt188Meter({ kind: 'water', address: W })
    const gas = new SimCjt188Meter({ kind: 'gas', address: G, startHundredths: 99_000_001 })
    const heat = new SimCjt188Meter({ kind: 'heat', address: H, heatUnit: 'GJ' })
    const meters = [water, gas, heat]
    const drivers: Driver[] = []
    const make = (cfg: EdgeDeviceConfig) => {
      const d = createDriver(cfg)
      drivers.push(d)
      return d
    }
    let dw: Driver
    let dg: Driver
    let dh: Driver

    beforeAll(async () => {
      if (kind === 'serial') {
        pty = ptyPair('pw-cjt188-bad-')
        await pty.up()
        server = await startCjt188Server({ serial: { path: pty.b }, meters, replyDelayMs: 15 })
        link = { transport: 'serial', path: pty.a }
      } else {
        server = await startCjt188Server({ tcp: { port: 0 }, meters, replyDelayMs: 15 })
        link = { transport: 'tcp', host: '127.0.0.1', port: server.port as number }
      }
      dw = make(device('water', 'cjt188-water', W, link))
      dg = make(device('gas', 'cjt188-gas', G, link))
      dh = make(device('heat', 'cjt188-heat', H, link))
      for (const d of drivers) await d.connect(AbortSignal.timeout(5000))
    })

    afterAll(async () => {
      for (const d of drivers) await d.close()
      await server?.close()
      await pty?.cleanup()
    })

    const healAll = () => {
      for (const m of meters) {
        m.fault = 'none'
        m.status = 0
        m.noiseBefore = []
        m.fixedSer = undefined
      }
    }
    const readAll = () => Promise.all([dw, dg, dh].map((d) => d.read(AbortSignal.timeout(5000))))

    it('reads all three meters concurrently, one request at a time on the bus, with the values served', async () => {
      healAll()
      const before = server.stats()
      for (let round = 0; round < 3; round++) {
        for (const m of meters) m.tick()
        const [rw, rg, rh] = await readAll()
        expect(rw?.values).toEqual(water.expected())
        expect(rg?.values).toEqual(gas.expected())
        expect(rh?.values).toEqual(heat.expected())
        expect(Object.keys(rh?.values ?? {}).sort()).toEqual([
          'battery_low',
          'flow_m3h',
          'heat_gj',
          'heat_power_kw',
          'heat_volume_m3',
          'meter_status_word',
          'return_temp_c',
          'supply_temp_c',
          'valve_state',
        ])
        for (const r of [rw, rg, rh]) expect(r?.errors).toEqual([])
      }
      const after = server.stats()
      expect(after.requests - before.requests).toBe(9)
      expect(after.collisions).toBe(0)
    })

    const faults = [
      ['bad-checksum', 'EDGE_ERR_CHECKSUM'],
      ['truncated', 'EDGE_ERR_FRAME'],
      ['wrong-address', 'EDGE_ERR_ADDRESS'],
      ['abnormal', 'EDGE_ERR_METER_EXCEPTION'],
    ] as const
    for (const [fault, code] of faults) {
      it(`${fault}: every value of that meter is bad with ${code}; the other meters read good values`, async () => {
        healAll()
        heat.fault = fault
        water.tick()
        const [rw, rg, rh] = await readAll()
        expect(rh?.values).toEqual({})
        // the six measurements and the three status quantities
        expect(Object.values(rh?.quality ?? {})).toHaveLength(9)
        expect(new Set(Object.values(rh?.quality ?? {}))).toEqual(new Set(['bad']))
        expect(new Set(rh?.errors.map((e) => e.code))).toEqual(new Set([code]))
        expect(rw?.values).toEqual(water.expected())
        expect(rg?.values).toEqual(gas.expected())
        heat.fault = 'none'
        expect((await dh.read(AbortSignal.timeout(5000))).values).toEqual(heat.expected())
      })
    }

    it('BCD digits out of range: only the values carrying them are bad (EDGE_ERR_BCD), the rest good', async () => {
      healAll()
      heat.fault = 'bcd-out-of-range'
      water.fault = 'bcd-out-of-range'
      const [rw, , rh] = await readAll()
      expect(rw?.values).toEqual(water.statusValues())
      expect(rw?.quality).toEqual({ water_m3: 'bad' })
      expect(rh?.quality).toEqual({ heat_gj: 'bad', supply_temp_c: 'bad' })
      expect(rh?.errors.map((e) => [e.point, e.code])).toEqual([
        ['heat_gj', 'EDGE_ERR_BCD'],
        ['supply_temp_c', 'EDGE_ERR_BCD'],
      ])
      const { heat_gj: _h, supply_temp_c: _s, ...rest } = heat.expected()
      expect(rh?.values).toEqual(rest)
    })

    it('status: valve open and closed, battery low and the status word are published; valve abnormal is valve_state bad; a badStatusMask bit makes the measurements bad', async () => {
      healAll()
      water.status = 0x0001 // valve closed (D1–D0 = 01)
      const closed = await dw.read(AbortSignal.timeout(5000))
      expect(closed.values).toEqual({ water_m3: water.measured().water_m3, valve_state: 1, battery_low: 0, meter_status_word: 1 })
      expect(closed.errors).toEqual([])
      water.status = 0x0000 // valve open
      expect((await dw.read(AbortSignal.timeout(5000))).values).toMatchObject({ valve_state: 0, battery_low: 0, meter_status_word: 0 })
      water.status = 0x0007 // valve abnormal (D1–D0 = 11), battery low (D2)
      const rw = await dw.read(AbortSignal.timeout(5000))
      expect(rw.values).toEqual({ water_m3: water.measured().water_m3, battery_low: 1, meter_status_word: 7 })
      expect(rw.quality).toEqual({ valve_state: 'bad' })
      expect(rw.errors).toEqual([expect.objectContaining({ point: 'valve_state', code: 'EDGE_ERR_METER_STATUS' })])
      expect(rw.errors[0]?.message).toMatch(/valve abnormal \(status 0007\)/)
      const masked = make(device('water-masked', 'cjt188-water', W, link, { badStatusMask: 0x0100 }))
      await masked.connect(AbortSignal.timeout(5000))
      water.status = 0x0100 // a manufacturer fault bit in ST2
      const rm = await masked.read(AbortSignal.timeout(5000))
      // the measurement bad; the status that says why stays good
      expect(rm.values).toEqual({ valve_state: 0, battery_low: 0, meter_status_word: 0x0100 })
      expect(rm.quality).toEqual({ water_m3: 'bad' })
      expect(rm.errors.map((e) => e.code)).toEqual(['EDGE_ERR_METER_STATUS'])
      await masked.close()
    })

    it('valve: none publishes no valve_state (a meter without a valve)', async () => {
      healAll()
      const novalve = make(device('water-novalve', 'cjt188-water', W, link, { valve: 'none' }))
      await novalve.connect(AbortSignal.timeout(5000))
      water.status = 0x0003
      const r = await novalve.read(AbortSignal.timeout(5000))
      expect(r.values).toEqual({ water_m3: water.measured().water_m3, battery_low: 0, meter_status_word: 3 })
      expect(r.errors).toEqual([])
      await novalve.close()
    })

    it('noise before a reply: a stray 68 whose "length" byte is noise is passed over, the reply after it read and counted as resynced', async () => {
      healAll()
      // 68, then noise whose 11th byte (L) says 200 data bytes: read as a frame start, it would wait for 213 bytes.
      water.noiseBefore = [0x68, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0xc8]
      const before = wireCountsOf(dw)?.resynced ?? 0
      water.tick()
      const r = await dw.read(AbortSignal.timeout(5000))
      expect(r.errors).toEqual([])
      expect(r.values).toEqual(water.expected())
      expect(wireCountsOf(dw)?.resynced).toBe(before + 1)
    })

    it('a meter answering with a fixed SER 00: refused by default (EDGE_ERR_FRAME, every value bad), read with serCheck ignore', async () => {
      healAll()
      water.fixedSer = 0x00
      water.tick()
      const strict = await dw.read(AbortSignal.timeout(5000))
      expect(strict.values).toEqual({})
      expect(new Set(strict.errors.map((e) => e.code))).toEqual(new Set(['EDGE_ERR_FRAME']))
      expect(strict.errors[0]?.message).toMatch(/reply to request 0, expected \d+ \(a late reply, or a meter that answers with a fixed SER: serCheck ignore\)/)
      const lenient = make(device('water-fixed-ser', 'cjt188-water', W, link, { serCheck: 'ignore' }))
      await lenient.connect(AbortSignal.timeout(5000))
      const r = await lenient.read(AbortSignal.timeout(5000))
      expect(r.errors).toEqual([])
      expect(r.values).toEqual(water.expected())
      await lenient.close()
    })

    it('a silent meter and a wrong configured address time out (EDGE_ERR_TIMEOUT) without stopping the others', async () => {
      healAll()
      gas.fault = 'silent'
      const nobody = make(device('nobody', 'cjt188-water', '00000000109999', link))
      await nobody.connect(AbortSignal.timeout(5000))
      const results = await Promise.allSettled([
        dw.read(AbortSignal.timeout(5000)),
        dg.read(AbortSignal.timeout(5000)),
        nobody.read(AbortSignal.timeout(5000)),
        dh.read(AbortSignal.timeout(5000)),
      ])
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled'])
      expect(await codeOf(results[1]?.status === 'rejected' ? Promise.reject(results[1].reason) : Promise.resolve())).toBe('EDGE_ERR_TIMEOUT')
      expect(await codeOf(results[2]?.status === 'rejected' ? Promise.reject(results[2].reason) : Promise.resolve())).toBe('EDGE_ERR_TIMEOUT')
      expect((results[0] as PromiseFulfilledResult<ReadResult>).value.values).toEqual(water.expected())
      expect((results[3] as PromiseFulfilledResult<ReadResult>).value.values).toEqual(heat.expected())
      expect(server.stats().otherAddress).toBeGreaterThan(0)
      // after a timeout the driver has let go; it connects again and reads
      gas.fault = 'none'
      await dg.connect(AbortSignal.timeout(5000))
      expect((await dg.read(AbortSignal.timeout(5000))).values).toEqual(gas.expected())
      await nobody.close()
    })

    it('retries a garbled reply and takes the good one after it', async () => {
      healAll()
      const retrying = make(device('heat-retry', 'cjt188-heat', H, link))
      const cfg = device('heat-retry2', 'cjt188-heat', H, link)
      const withRetry = make({ ...cfg, retries: 2, retryBackoffMs: 0 })
      await withRetry.connect(AbortSignal.timeout(5000))
      let n = 0
      const original = heat.reply.bind(heat)
      heat.reply = (ser, di) => {
        heat.fault = n++ === 0 ? 'bad-checksum' : 'none'
        return original(ser, di)
      }
      try {
        const r = await withRetry.read(AbortSignal.timeout(5000))
        expect(r.values).toEqual(heat.expected())
        expect(n).toBe(2)
      } finally {
        heat.reply = original
      }
      await retrying.close()
      await withRetry.close()
    })
  })
}
