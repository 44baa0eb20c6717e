import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ModbusRTU from 'modbus-serial'
import { SerialPort } from 'serialport'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { requireCommand } from '../../test/system.ts'
import { createMeterDevice, serveMetersRtu, type RunningRtuMeter } from '../modbus-meter.ts'
import { crc16Modbus } from './rtu.ts'

// A real serial line: a pty pair from socat. The simulator holds one end, modbus-serial's RTU
// client (or a raw port) the other. ptys ignore the baud rate, so nothing here measures timing.
type Client = InstanceType<typeof ModbusRTU.default>
const NOW = Date.UTC(2024, 0, 1, 2, 30)

interface PtyPair {
  a: string
  b: string
  stop(): Promise<void>
}

async function ptyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-rtu-'))
  const a = join(dir, 'A')
  const b = join(dir, 'B')
  const proc: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' })
  const deadline = Date.now() + 5000
  while (!(existsSync(a) && existsSync(b))) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error('socat did not create the pty pair')
    await new Promise((r) => setTimeout(r, 20))
  }
  return {
    a,
    b,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r))
        proc.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})
beforeAll(() => requireCommand('socat', 'socat'))

async function rtuMeters(path: string): Promise<RunningRtuMeter[]> {
  const mk = (unitId: number, profile: 'eastron-sdm630' | 'acrel-adl400-secondary', ratedKw: number) =>
    createMeterDevice({ unitId, profile, ratedKw, seed: unitId, clock: () => NOW, startEnergyKwh: 1000 * unitId })
  const meters = await serveMetersRtu({ path, baudRate: 9600 }, [
    { device: mk(1, 'eastron-sdm630', 400), updateIntervalMs: 0 },
    { device: mk(7, 'acrel-adl400-secondary', 90), updateIntervalMs: 0 },
  ])
  cleanups.push(async () => {
    await Promise.all(meters.map((m) => m.stop()))
  })
  return meters
}

describe('Modbus RTU meters over a pty pair', () => {
  it('answers modbus-serial’s RTU client for several slave ids on one line', async () => {
    const pty = await ptyPair()
    cleanups.push(pty.stop)
    const [sdm, adl] = await rtuMeters(pty.a)
    const client: Client = new ModbusRTU.default()
    await client.connectRTUBuffered(pty.b, { baudRate: 9600 })
    cleanups.push(() => new Promise<void>((r) => client.close(() => r())))
    client.setTimeout(1000)
    client.setID(1)
    const p = await client.readInputRegisters(0x34, 2)
    expect(p.buffer.readFloatBE(0)).toBe(Math.fround(sdm!.snapshot().values.active_power_kw * 1000))
    client.setID(7)
    const ct = (await client.readHoldingRegisters(0x8e, 1)).buffer.readUInt16BE(0)
    const pAdl = (await client.readHoldingRegisters(0x16a, 2)).buffer.readInt32BE(0)
    expect(pAdl).toBe(Math.round(adl!.snapshot().values.active_power_kw / ct / 0.001))
    // An unmapped register on the bus: exception 02 in an RTU frame.
    let code: number | undefined
    await client.readHoldingRegisters(0x67, 1).catch((err: { modbusCode?: number }) => {
      code = err.modbusCode
    })
    expect(code).toBe(2)
    // An address nobody has: silence, so the client times out.
    client.setID(9)
    client.setTimeout(300)
    const err = await client.readHoldingRegisters(0, 1).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.message ?? '').toMatch(/timed out/i)
  })

  it('ignores a frame with a bad CRC like a real slave and answers the next good one', async () => {
    const pty = await ptyPair()
    cleanups.push(pty.stop)
    const [sdm] = await rtuMeters(pty.a)
    const port = new SerialPort({ path: pty.b, baudRate: 9600, autoOpen: false })
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())))
    cleanups.push(() => new Promise<void>((r) => port.close(() => r())))
    let received = Buffer.alloc(0)
    port.on('data', (c: Buffer) => {
      received = Buffer.concat([received, c])
    })
    const request = Buffer.from([0x01, 0x04, 0x00, 0x34, 0x00, 0x02, 0, 0])
    const crc = crc16Modbus(request.subarray(0, 6))
    request.writeUInt16LE(crc ^ 0x0100, 6) // one bit off
    port.write(request)
    await new Promise((r) => setTimeout(r, 150))
    expect(received.length).toBe(0)
    request.writeUInt16LE(crc, 6)
    port.write(request)
    const deadline = Date.now() + 2000
    while (received.length < 9 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    // Reply: address, FC, byte count 4, float32 W, CRC (low byte first) over the rest.
    expect(received.length).toBe(9)
    expect([...received.subarray(0, 3)]).toEqual([1, 4, 4])
    expect(received.readFloatBE(3)).toBe(Math.fround(sdm!.snapshot().values.active_power_kw * 1000))
    expect(received.readUInt16LE(7)).toBe(crc16Modbus(received.subarray(0, 7)))
  })
})
