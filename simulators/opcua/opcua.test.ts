import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  AttributeIds,
  ClientMonitoredItem,
  ClientSubscription,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  type DataValue,
} from 'node-opcua'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMachineModel, CYCLE_SECONDS, STATE_POWER_FRACTION, type MachineSnapshot } from './machine.ts'
import { startOpcuaMachineServer, type OpcuaMachineServer } from './server.ts'

const T0 = Date.UTC(2026, 0, 5, 0, 0) // Monday 08:00 Shanghai
const shift = (t: number) => {
  const h = new Date(t + 8 * 3_600_000).getUTCHours()
  return h >= 8 && h < 16
}

describe('machine model', () => {
  it('follows its state: stopped outside the shift; power by state; parts only while running; energy = ∫ power', () => {
    const m = createMachineModel({ kind: 'cnc', ratedKw: 40, seed: 9, product: 'disc', scheduled: shift })
    const snaps: MachineSnapshot[] = []
    for (let t = T0; t <= T0 + 12 * 3_600_000; t += 10_000) snaps.push(m.update(t))
    let energy = 0
    let runS = 0
    const seen = new Set<number>()
    for (let i = 1; i < snaps.length; i++) {
      const a = snaps[i - 1]!
      const b = snaps[i]!
      energy += ((a.powerKw + b.powerKw) / 2) * (10 / 3600)
      if (a.state === 2) runS += 10
      seen.add(b.state)
      const hour = new Date(b.ts + 8 * 3_600_000).getUTCHours()
      if (hour >= 16) expect(b.state).toBe(0)
      const frac = { 0: STATE_POWER_FRACTION.stopped, 1: STATE_POWER_FRACTION.idle, 2: STATE_POWER_FRACTION.running, 3: STATE_POWER_FRACTION.fault }[b.state]
      expect(Math.abs(b.powerKw / (40 * frac) - 1)).toBeLessThanOrEqual(0.05)
    }
    const last = snaps[snaps.length - 1]!
    expect(last.energyKwh).toBeCloseTo(energy, 9)
    expect(last.partCount).toBe(Math.floor(runS / CYCLE_SECONDS.cnc))
    // An 8-hour shift at ~88 % running, 150 s cycles: about 170 parts.
    expect(last.partCount).toBeGreaterThan(150)
    expect(last.partCount).toBeLessThan(192)
    expect(seen.has(0) && seen.has(1) && seen.has(2)).toBe(true)
  })

  it('is deterministic with the seed', () => {
    const run = (seed: number) => {
      const m = createMachineModel({ kind: 'press', ratedKw: 400, seed, product: 'k', scheduled: () => true })
      let s: MachineSnapshot | undefined
      for (let t = T0; t < T0 + 3_600_000; t += 5000) s = m.update(t)
      return s
    }
    expect(run(1)).toEqual(run(1))
    expect(run(2)).not.toEqual(run(1))
  })
})

describe('OPC UA machine server', () => {
  let dir: string
  let server: OpcuaMachineServer
  let now = T0 + 3_600_000
  const models = {
    'cnc-01': createMachineModel({ kind: 'cnc', ratedKw: 45, seed: 1, product: 'brake-disc', scheduled: shift }),
    'press-01': createMachineModel({ kind: 'press', ratedKw: 400, seed: 2, product: 'brake-disc', scheduled: shift }),
  }
  const snaps: Record<string, MachineSnapshot> = {}
  const tick = () => {
    for (const [id, m] of Object.entries(models)) snaps[id] = m.update(now)
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-opcua-'))
    tick()
    server = await startOpcuaMachineServer({
      pkiFolder: join(dir, 'pki'),
      name: 'brake-disc',
      machines: [
        { id: 'cnc-01', kind: 'cnc', snapshot: () => snaps['cnc-01']! },
        { id: 'press-01', kind: 'press', snapshot: () => snaps['press-01']! },
      ],
    })
  })
  afterAll(async () => {
    await server?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves state, power, energy, part count and product to a node-opcua client, and pushes changes to a subscription', async () => {
    const client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: join(dir, 'client-pki'), automaticallyAcceptUnknownCertificate: false }),
      connectionStrategy: { maxRetry: 0 },
    })
    await client.connect(server.endpointUrl)
    const session = await client.createSession()
    try {
      const ids = server.nodeIds['cnc-01']!
      const read = async (id: string) => (await session.read({ nodeId: id, attributeId: AttributeIds.Value })).value.value as number | string
      expect(await read(ids.State)).toBe(snaps['cnc-01']!.state)
      expect(await read(ids.StateName)).toBe(['stopped', 'idle', 'running', 'fault'][snaps['cnc-01']!.state])
      expect(await read(ids.PowerKw)).toBe(snaps['cnc-01']!.powerKw)
      expect(await read(ids.Product)).toBe('brake-disc')
      expect(await read(server.nodeIds['press-01']!.PowerKw)).toBe(snaps['press-01']!.powerKw)

      const sub = ClientSubscription.create(session, {
        requestedPublishingInterval: 100,
        requestedMaxKeepAliveCount: 10,
        requestedLifetimeCount: 100,
        publishingEnabled: true,
      })
      const partsSeen: number[] = []
      const item = ClientMonitoredItem.create(
        sub,
        { nodeId: server.nodeIds['press-01']!.PartCount, attributeId: AttributeIds.Value },
        { samplingInterval: 100, queueSize: 10, discardOldest: true },
        TimestampsToReturn.Both,
      )
      item.on('changed', (dv: DataValue) => partsSeen.push(dv.value.value as number))
      const waitFor = async (ok: () => boolean) => {
        const deadline = Date.now() + 5000
        while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      }
      await waitFor(() => partsSeen.length >= 1)
      expect(partsSeen[0]).toBe(snaps['press-01']!.partCount)
      // Ten simulated minutes later, published once: the subscriber gets the new count.
      for (let k = 0; k < 60; k++) {
        now += 10_000
        tick()
      }
      server.publish()
      const expected = snaps['press-01']!.partCount
      await waitFor(() => partsSeen.includes(expected))
      expect(partsSeen).toContain(expected)
      expect(expected).toBeGreaterThan(partsSeen[0]!)
      expect(await read(ids.EnergyKwh)).toBe(snaps['cnc-01']!.energyKwh)
      await sub.terminate()
    } finally {
      await session.close()
      await client.disconnect()
    }
  })
})
