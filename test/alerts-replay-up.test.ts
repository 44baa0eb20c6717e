import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPlantWattConfig, type ResolvedConfig } from '../cli/config.ts'
import { closeAll, startAll, type UpResult } from '../cli/wiring.ts'
import { silentLogger } from '../core/logger.ts'

// `plantwatt up` (startAll) hands the config's alerts.rules to the API as to the alert service:
// POST /alerts/replay on the running stack runs those, not the recommended set.

const DEMO = join(import.meta.dirname, '..', 'examples', 'demo.yaml')
const RULES = [
  { id: 'demo-offline', kind: 'offline' },
  { id: 'demo-stuck', kind: 'stuck', quantity: 'active_power_kw', for: '10m' },
]
const logger = silentLogger()
let dir: string
let up: UpResult

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-replay-up-'))
  const base = loadPlantWattConfig(DEMO)
  const cfg: ResolvedConfig = {
    ...base,
    storage: { backend: 'embedded', path: join(dir, 'plantwatt.db') },
    broker: { ...base.broker, port: 0 },
    api: { ...base.api, port: 0 },
    // As a config file would give them (validated by startAll's alert service like any alerts.rules).
    alerts: { ...base.alerts, rules: RULES as unknown as ResolvedConfig['alerts']['rules'] },
  }
  up = await startAll(cfg, logger)
}, 60_000)

afterAll(async () => {
  if (up) await closeAll(up.closables, logger)
  rmSync(dir, { recursive: true, force: true })
})

describe('alerts replay on the running stack', () => {
  it('runs the configured rules of the config file (rulesBasis configured)', async () => {
    const url = up.apiUrl.replace(/\/$/, '')
    const from = Date.now() - 60_000
    // Until both simulated meters have been stored once (polled every second by the edge agent).
    const deadline = Date.now() + 30_000
    type Answer = { rulesBasis: string; byRule: Record<string, unknown>; devices: number }
    let answer: Answer | undefined
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000))
      const res = await fetch(`${url}/api/v1/alerts/replay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from: new Date(from).toISOString(), to: new Date().toISOString() }),
      })
      if (res.status === 404) continue // API_ERR_NOT_FOUND: nothing stored yet
      expect(res.status).toBe(200)
      answer = (await res.json()) as Answer
      if (answer?.devices === 2) break
    }
    expect(answer?.devices).toBe(2)
    expect(answer?.rulesBasis).toBe('configured')
    expect(Object.keys(answer?.byRule ?? {})).toEqual(['demo-offline', 'demo-stuck'])
  }, 60_000)
})
