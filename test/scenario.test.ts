import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { listPlantDevices } from '../core/plant.ts'
import { loadPlantWattConfig, type ResolvedConfig } from '../cli/config.ts'
import { closeAll, startAll, type UpResult } from '../cli/wiring.ts'
import { loadScenario } from '../simulators/index.ts'

interface LiveDevice {
  enterprise: string
  site: string
  line: string
  device: string
  values: Record<string, number>
  quality?: Record<string, string>
}

describe('plantwatt up --scenario hubei: every meter and line PLC of three enterprises, live', () => {
  const logger = silentLogger()
  const dir = mkdtempSync(join(tmpdir(), 'pw-scenario-'))
  let up: UpResult

  beforeAll(async () => {
    const base = loadPlantWattConfig(undefined)
    const cfg: ResolvedConfig = {
      ...base,
      storage: { backend: 'embedded', path: join(dir, 'plantwatt.db') },
      broker: { ...base.broker, port: 0 },
      api: { ...base.api, port: 0 },
    }
    up = await startAll(cfg, logger, { scenario: loadScenario('hubei'), groundTruthFile: join(dir, 'faults.jsonl') })
  })

  afterAll(async () => {
    if (up) await closeAll(up.closables, logger)
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves good values for every device, scales secondary-side meters and counts production', async () => {
    const run = up.scenario!
    const expected = run.meters.length + run.plcs.length
    expect(run.meters.length).toBe(31)
    expect(run.plcs.length).toBe(7)
    let devices: LiveDevice[] = []
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      devices = ((await (await fetch(`${up.apiUrl}/api/v1/live`)).json()) as { devices: LiveDevice[] }).devices
      if (devices.length === expected) break
      await new Promise((r) => setTimeout(r, 300))
    }
    expect(devices).toHaveLength(expected)
    // Every Modbus device of the scenario reports (OPC UA machines are not wired into `up` yet),
    // each is a device of the plant model, and no value is marked bad.
    const modelKeys = new Set(listPlantDevices(up.plant).map((d) => `${d.enterprise}/${d.site}/${d.line}/${d.device}`))
    const liveKeys = devices.map((d) => `${d.enterprise}/${d.site}/${d.line}/${d.device}`).sort()
    expect(liveKeys).toEqual([...run.meters, ...run.plcs].map((m) => m.key).sort())
    for (const k of liveKeys) expect(modelKeys.has(k), k).toBe(true)
    for (const d of devices) expect(d.quality ?? {}, `${d.device} on ${d.line}`).toEqual({})

    const byKey = new Map(devices.map((d) => [`${d.enterprise}/${d.site}/${d.line}/${d.device}`, d]))
    for (const m of run.meters) {
      const live = byKey.get(m.key)!
      const served = m.snapshot().values.active_power_kw
      // The published power is the real (primary-side) power: CT/PT ratios applied where the
      // profile serves secondary-side values. The meter updates each second, so allow 15 %.
      expect(Math.abs((live.values.active_power_kw as number) - served), `${m.key} (${m.profile})`).toBeLessThanOrEqual(Math.max(1, Math.abs(served) * 0.15))
    }
    for (const p of run.plcs) {
      const live = byKey.get(p.key)!
      expect(live.values[p.quantity], p.key).toBeGreaterThanOrEqual(0)
      // The kilns' DCS counts coal, the EAF shop's PLC oxygen and natural gas: served and published live.
      const carriers = p.key.endsWith('/kiln-dcs') ? ['coal_t'] : p.key.endsWith('/eaf-1/caster-plc') ? ['gas_m3', 'oxygen_m3'] : []
      expect(Object.keys(live.values).sort(), p.key).toEqual([...carriers, p.quantity].sort())
      for (const c of carriers) expect(live.values[c], `${p.key} ${c}`).toBeGreaterThanOrEqual(0)
    }
    expect(run.plcs.filter((p) => p.profile !== 'plantwatt-line-plc-t' && p.profile !== 'plantwatt-line-plc-pcs').map((p) => [p.key, p.profile])).toEqual([
      ['edong-cement/huangshi/clinker-1/kiln-dcs', 'plantwatt-line-plc-t-coal'],
      ['edong-cement/huangshi/clinker-2/kiln-dcs', 'plantwatt-line-plc-t-coal'],
      ['jiangcheng-steel/qingshan/eaf-1/caster-plc', 'plantwatt-line-plc-t-oxygen-gas'],
    ])
  })
})
