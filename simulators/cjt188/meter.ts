import { bcd, frame, wireAddress } from './codec.ts'

/** Faults a simulated meter can be told to make on its next replies. */
export type Cjt188Fault =
  | 'none'
  /** Never answers. */
  | 'silent'
  /** Answers with a wrong CS. */
  | 'bad-checksum'
  /** Sends only the first part of its reply. */
  | 'truncated'
  /** Answers as if it had another address (a meter answering for another address). */
  | 'wrong-address'
  /** Puts a digit above 9 into its first value (and supply temperature on a heat meter). */
  | 'bcd-out-of-range'
  /** Answers with the abnormal-reply control bit (C = C1). */
  | 'abnormal'

export type SimHeatUnit = 'kWh' | 'MWh' | 'GJ'
const HEAT_UNIT_CODES: Record<SimHeatUnit, number> = { kWh: 0x05, MWh: 0x08, GJ: 0x11 }
const M3 = 0x2c
const M3H = 0x35
const KW = 0x17

export interface SimMeterOptions {
  kind: 'water' | 'gas' | 'heat'
  /** Printed address, 14 hex digits (A6 first). */
  address: string
  /** Default 10H water, 30H gas, 20H heat. */
  meterType?: number
  /** Heat meters: the unit of the heat counters (default kWh). */
  heatUnit?: SimHeatUnit
  /** Counter start, in hundredths of the counter's unit. */
  startHundredths?: number
}

/**
 * One CJ/T 188 meter. Values are held as the integers it serves (hundredths, ten-thousandths), so
 * `expected()` is exact: what a correct decoder must publish, in canonical units.
 */
export class SimCjt188Meter {
  readonly kind: SimMeterOptions['kind']
  readonly address: number[]
  readonly printed: string
  readonly meterType: number
  readonly heatUnit: SimHeatUnit
  fault: Cjt188Fault = 'none'
  /** ST1 | ST2 << 8. */
  status = 0
  /** A fixed SER in every reply (as some meters send 00) instead of the request's; undefined: echo it. */
  fixedSer: number | undefined = undefined
  /** Bytes sent before each reply: line noise, e.g. a stray 68. */
  noiseBefore: readonly number[] = []
  requests = 0
  private counter: number
  private settlement: number
  private volume = 123_456 // hundredths of m3 (heat meters)
  private powerHundredthsKw = 4_250
  private flowTenThousandths = 12_345 // m3/h × 10^4
  private supply = 8_512 // °C × 100
  private ret = 6_034
  private step = 0

  constructor(o: SimMeterOptions) {
    this.kind = o.kind
    this.printed = o.address.toUpperCase()
    this.address = wireAddress(o.address)
    this.meterType = o.meterType ?? { water: 0x10, gas: 0x30, heat: 0x20 }[o.kind]
    this.heatUnit = o.heatUnit ?? 'kWh'
    this.counter = o.startHundredths ?? 1_234_567
    this.settlement = this.counter - 10_000
  }

  /** Moves the values on, as a minute of use would. */
  tick(): void {
    this.step++
    this.counter += 137 + (this.step % 7) * 11
    this.volume += 251
    this.powerHundredthsKw = 4_000 + ((this.step * 317) % 2_000)
    this.flowTenThousandths = 10_000 + ((this.step * 4_111) % 50_000)
    this.supply = 8_000 + ((this.step * 37) % 900)
    this.ret = 5_500 + ((this.step * 53) % 900)
  }

  /** The canonical values a correct reader publishes for the current state. */
  expected(): Record<string, number> {
    return { ...this.measured(), ...this.statusValues() }
  }

  /** The status the meter serves, as published: valve 0 open / 1 closed (absent when abnormal), battery low, the raw word. */
  statusValues(): Record<string, number> {
    const valve = this.status & 0x03
    return { ...(valve <= 1 ? { valve_state: valve } : {}), battery_low: (this.status & 0x04) === 0 ? 0 : 1, meter_status_word: this.status }
  }

  /** The measurements alone, in canonical units. */
  measured(): Record<string, number> {
    if (this.kind !== 'heat') return { [this.kind === 'water' ? 'water_m3' : 'gas_m3']: this.counter / 100 }
    const heat: Record<string, number> =
      this.heatUnit === 'GJ' ? { heat_gj: this.counter / 100 } : { heat_kwh: this.heatUnit === 'MWh' ? (this.counter * 1000) / 100 : this.counter / 100 }
    return {
      ...heat,
      heat_power_kw: this.powerHundredthsKw / 100,
      flow_m3h: this.flowTenThousandths / 10_000,
      heat_volume_m3: this.volume / 100,
      supply_temp_c: this.supply / 100,
      return_temp_c: this.ret / 100,
    }
  }

  /** The reply to a read-data request with sequence number `ser` and DI bytes as received. */
  reply(requestSer: number, di: readonly number[]): Buffer | undefined {
    this.requests++
    const ser = this.fixedSer ?? requestSer
    if (this.fault === 'silent') return undefined
    const data = [...di, ser, ...(this.kind === 'heat' ? this.heatData() : this.volumeData())]
    if (this.fault === 'bcd-out-of-range') this.spoilBcd(data)
    const address = this.fault === 'wrong-address' ? this.otherAddress() : this.address
    const control = this.fault === 'abnormal' ? 0xc1 : 0x81
    const out = frame(this.meterType, address, control, this.fault === 'abnormal' ? [di[0] ?? 0, di[1] ?? 0, ser, this.status & 0xff, this.status >> 8] : data)
    if (this.fault === 'bad-checksum') out[out.length - 2] = ((out[out.length - 2] as number) + 1) % 256
    if (this.fault === 'truncated') return out.subarray(0, out.length - 9)
    return this.noiseBefore.length > 0 ? Buffer.concat([Buffer.from(this.noiseBefore), out]) : out
  }

  private otherAddress(): number[] {
    const a = [...this.address]
    a[0] = ((a[0] as number) + 1) % 0x100
    return a
  }

  private spoilBcd(data: number[]): void {
    // DI (2) + SER (1): the first value's low byte, and the heat meter's supply temperature.
    const first = this.kind === 'heat' ? 3 + 5 : 3
    data[first] = 0xa5
    if (this.kind === 'heat') data[3 + 25] = 0x7c
  }

  private tail(): number[] {
    // Time: ss mm hh DD MM YY CC (BCD), 2026-01-12 10:00:00; then ST1 ST2.
    return [0x00, 0x00, 0x10, 0x12, 0x01, 0x26, 0x20, this.status & 0xff, this.status >> 8]
  }

  private volumeData(): number[] {
    return [...bcd(this.counter, 4), M3, ...bcd(this.settlement, 4), M3, ...this.tail()]
  }

  private heatData(): number[] {
    const unit = HEAT_UNIT_CODES[this.heatUnit]
    return [
      ...bcd(this.settlement, 4),
      unit,
      ...bcd(this.counter, 4),
      unit,
      ...bcd(this.powerHundredthsKw, 4),
      KW,
      ...bcd(this.flowTenThousandths, 4),
      M3H,
      ...bcd(this.volume, 4),
      M3,
      ...bcd(this.supply, 3),
      ...bcd(this.ret, 3),
      ...bcd(8_760, 3),
      ...this.tail(),
    ]
  }
}
