import { describe, expect, it } from 'vitest'
import { decodeBcd, decodeReading, HEAT_LAYOUT, volumeLayout } from './decode.ts'
import { addressToText, addressToWire, encodeFrame, parseFrame, readDataRequest } from './frame.ts'

const bytes = (hexText: string) => Uint8Array.from(Buffer.from(hexText.replace(/\s+/g, ''), 'hex'))

describe('CJ/T 188 frames', () => {
  it('builds the published example request byte for byte (cold water meter 0011223344, factory 7833, CS 80)', () => {
    // The example of the public protocol walk-through (see README): FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16.
    const req = readDataRequest(0x10, addressToWire('78330011223344'), 0, 'low-first', 4)
    expect(req.toString('hex')).toBe('fefefefe68104433221100337801031f900080' + '16')
    expect(readDataRequest(0x20, addressToWire('78330011223344'), 1, 'high-first', 0).toString('hex')).toBe('6820443322110033780103901f01' + '91' + '16')
  })

  it('parses a frame after preamble and noise; the address reads back as printed', () => {
    const f = encodeFrame({ meterType: 0x30, address: addressToWire('000000AB123456'), control: 0x81, data: bytes('1f9007') }, 3)
    const parsed = parseFrame(Buffer.concat([Buffer.from([0x00, 0x13]), f]))
    expect(parsed.kind).toBe('frame')
    if (parsed.kind !== 'frame') return
    expect(parsed.frame.meterType).toBe(0x30)
    expect(addressToText(parsed.frame.address)).toBe('000000AB123456')
    expect([...parsed.frame.data]).toEqual([0x1f, 0x90, 0x07])
  })

  it('resynchronises on noise: a stray 68 whose "L" comes from the noise does not swallow the reply after it', () => {
    const f = encodeFrame({ meterType: 0x10, address: addressToWire('00000000000001'), control: 0x81, data: bytes('1f9001') }, 2)
    // 68 then ten noise bytes, the tenth (offset 10: L) C8 = 200 data bytes announced.
    const noise = bytes('68 99 99 99 99 99 99 99 99 99 c8')
    const parsed = parseFrame(Buffer.concat([noise, f]))
    expect(parsed).toMatchObject({ kind: 'frame', end: noise.length + f.length, resynced: true })
    if (parsed.kind === 'frame') expect(addressToText(parsed.frame.address)).toBe('00000000000001')
    // A 68 whose end byte and checksum are both wrong is noise too: 68 00 … with L = 0 and no 16.
    const zeroL = Buffer.concat([bytes('68 00 00 00 00 00 00 00 00 00 00 00 00'), f])
    expect(parseFrame(zeroL)).toMatchObject({ kind: 'frame', resynced: true })
    // Preamble only before the frame: not resynced.
    expect(parseFrame(f)).not.toHaveProperty('resynced')
  })

  it('a wrong checksum, a wrong end byte and a short frame are told apart', () => {
    const f = encodeFrame({ meterType: 0x10, address: addressToWire('00000000000001'), control: 0x81, data: bytes('1f9001') }, 0)
    const badCs = Buffer.from(f)
    badCs[badCs.length - 2] = (badCs[badCs.length - 2] as number) ^ 0x01
    expect(parseFrame(badCs)).toMatchObject({ kind: 'bad', code: 'EDGE_ERR_CHECKSUM' })
    const badEnd = Buffer.from(f)
    badEnd[badEnd.length - 1] = 0x17
    expect(parseFrame(badEnd)).toMatchObject({ kind: 'bad', code: 'EDGE_ERR_FRAME' })
    expect(parseFrame(f.subarray(0, f.length - 3))).toEqual({ kind: 'incomplete', received: f.length - 3, expected: f.length })
    expect(parseFrame(Buffer.from([0xfe, 0xfe]))).toEqual({ kind: 'incomplete', received: 0 })
  })
})

describe('CJ/T 188 values', () => {
  it('BCD, low byte first, with its decimals; a digit above 9 is refused', () => {
    expect(decodeBcd(bytes('78563412'), 2)).toEqual({ ok: true, value: 123456.78 })
    expect(decodeBcd(bytes('450123'), 2)).toEqual({ ok: true, value: 2301.45 })
    expect(decodeBcd(bytes('45012300'), 4)).toEqual({ ok: true, value: 23.0145 })
    expect(decodeBcd(bytes('7A563412'), 2)).toMatchObject({ ok: false })
    expect(decodeBcd(bytes('785634F2'), 2)).toMatchObject({ ok: false })
  })

  // DI, SER stripped: the data of the published water example (556677.00 m3), then time and status.
  const water = bytes('00776655 2c 00776655 2c 31012211051520 0000')

  it('a water reply gives water_m3 from the current cumulative flow and its unit code', () => {
    expect(decodeReading(volumeLayout('water_m3'), water, 'auto', 'm')).toEqual({ values: { water_m3: 556677 }, quality: {}, errors: [], status: 0 })
    const litres = Uint8Array.from(water)
    litres[4] = 0x29 // L
    expect(decodeReading(volumeLayout('water_m3'), litres, 'auto', 'm').values).toEqual({ water_m3: 556.677 })
  })

  it('an unknown or misplaced unit code and bad BCD spoil only that value', () => {
    const wrongUnit = Uint8Array.from(water)
    wrongUnit[4] = 0x05 // kWh is not a volume
    const r = decodeReading(volumeLayout('water_m3'), wrongUnit, 'auto', 'm')
    expect(r.values).toEqual({})
    expect(r.quality).toEqual({ water_m3: 'bad' })
    expect(r.errors.map((e) => e.code)).toEqual(['EDGE_ERR_UNIT'])
  })

  const heat = bytes(
    '78563412 05' + // settlement-day heat
      '00000010 08' + // current heat 100000.00 MWh (BCD 10000000)
      '50420000 17' + // heat power 42.50 kW
      '45230100 35' + // flow 1.2345 m3/h
      '00341200 2c' + // cumulative flow 1234.00 m3
      '128508' + // supply 0885.12 °C
      '346006' + // return 0660.34
      '608700' + // working hours
      '00001012012620' + // time
      '0400', // status: battery low
  )

  it('a heat reply gives heat in kWh or GJ, power, flow, volume and both temperatures', () => {
    const r = decodeReading(HEAT_LAYOUT, heat, 'auto', 'm')
    expect(r.values).toEqual({
      heat_kwh: 100_000_000,
      heat_power_kw: 42.5,
      flow_m3h: 1.2345,
      heat_volume_m3: 1234,
      supply_temp_c: 885.12,
      return_temp_c: 660.34,
    })
    expect(r.status).toBe(0x0004)
    expect(decodeReading(HEAT_LAYOUT, heat, 'heat_gj', 'm').values.heat_gj).toBeCloseTo(360_000, 6)
    const gj = Uint8Array.from(heat)
    gj[9] = 0x11 // GJ
    expect(decodeReading(HEAT_LAYOUT, gj, 'auto', 'm').values.heat_gj).toBe(100_000)
    expect(decodeReading(HEAT_LAYOUT, gj, 'heat_kwh', 'm').values.heat_kwh).toBeCloseTo(100_000 / 0.0036, 3)
  })
})
