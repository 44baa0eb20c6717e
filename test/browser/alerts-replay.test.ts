import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveApiConfig, startApi } from '../../api/index.ts'
import { hashPassword } from '../../broker/password.ts'
import { validateConfig } from '../../core/config.ts'
import { PlantModelSchema } from '../../core/plant.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { artifactsDir, launchBrowser, type RunningBrowser } from '../browser.ts'

// The alert backtest view (#/alerts/replay, 告警回测) in headless Chromium against a real API on the
// embedded store: four weeks of a day shift at 15-minute resolution, the 00:00–06:00 readings of
// Thursday 29 January 2026 (Shanghai) missing; the configured rules as `plantwatt up` hands them to the API.

const PLANT = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    { id: 'acme', name: 'Acme', sites: [{ id: 'wuhan', name: '武汉', lines: [{ id: 'l1', name: '一线', devices: [{ id: 'meter', kind: 'meter' }] }] }] },
  ],
})
const CONFIGURED = [
  { id: 'site-offline', kind: 'offline' },
  { id: 'site-anomaly', kind: 'anomaly', history: '3w' },
]
const T0 = Date.UTC(2026, 0, 4, 16) // Monday 5 January 2026, 00:00 Shanghai
const Q = 900_000
const DAY = 86_400_000

let dir: string
let store: TelemetryStore
let api: { url: string; close(): Promise<void> }
let browser: RunningBrowser

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-ui-replay-'))
  store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
  const points = []
  for (let t = T0; t < T0 + 28 * DAY; t += Q) {
    if (t >= T0 + 24 * DAY && t < T0 + 24 * DAY + 6 * 3_600_000) continue
    const hour = new Date(t + 8 * 3_600_000).getUTCHours()
    points.push({
      measurement: 'telemetry',
      tags: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' },
      fields: { active_power_kw: hour >= 8 && hour < 17 ? 300 + (t % 7) : 15 },
      ts: t,
    })
  }
  await store.write(points)
  const passwordHash = await hashPassword('engineer-pass', { N: 1024, r: 8, p: 1 })
  api = await startApi({
    store,
    plant: PLANT,
    alertRules: CONFIGURED,
    config: resolveApiConfig({
      port: 0,
      auth: {
        users: [{ username: 'zhao-lei', passwordHash, role: 'engineer', enterprise: 'acme' }],
        apiKeys: [],
        tokenTtlS: 3600,
        jwtSecret: 'replay-browser-secret-0123456789abcdef',
      },
      rateLimit: { max: 0, loginMax: 0, timeWindowMs: 60_000 },
    }),
  })
  browser = await launchBrowser()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await api?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Answer {
  rulesBasis: string
  devices: number
  deviceWeeks: number
  alertsPerDeviceWeek: number
  samples: number
  byRule: Record<string, { kind: string; alerts: number; devices: number }>
  alerts: { rule: string; openedAt: number; value: number; valueUnit: string; threshold: number | null; thresholdUnit: string }[]
}

describe('alert backtest view', () => {
  it('runs the configured rules over a week of stored history and shows what the API answers, in the plant’s time; errors with their code', async () => {
    const page = await browser.context.newPage()
    await page.goto(`${api.url}/#/login`)
    await page.fill('#login-user', 'zhao-lei')
    await page.fill('#login-pass', 'engineer-pass')
    await page.click('#login-submit')
    await page.waitForSelector('#me')
    // Linked from the alerts page.
    await page.goto(`${api.url}/#/alerts`)
    await page.click('#replay-link')
    await page.waitForSelector('#replay-run')
    await page.fill('#replay-from', '2026-01-26')
    await page.fill('#replay-to', '2026-02-02')
    await page.selectOption('#replay-scope', 'acme/wuhan/l1')
    await page.click('#replay-run')
    await page.waitForSelector('#replay-summary', { timeout: 60_000 })

    // The same request with the token the page holds.
    const token = String(await page.evaluate("sessionStorage.getItem('pw.token')"))
    const res = await fetch(`${api.url}/api/v1/alerts/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ from: '2026-01-26', to: '2026-02-02', enterprise: 'acme', site: 'wuhan', line: 'l1' }),
    })
    const a = (await res.json()) as Answer
    // Hand-worked: one device over 7 days = 1 device-week; the hole is one offline alert, opened at
    // 01:01 local (the last reading 23:45, limit 5 × 15 min = 75 min, then the first 1-minute step).
    expect(a.rulesBasis).toBe('configured')
    expect(a.devices).toBe(1)
    expect(a.deviceWeeks).toBeCloseTo(1, 10)
    expect(a.byRule['site-offline']).toEqual({ kind: 'offline', alerts: 1, devices: 1 })
    const text = async (sel: string) => (await page.locator(sel).textContent())?.trim()
    expect(await text('#replay-rules-basis')).toBe('已配置规则')
    // Learned from the three weeks before the range (default learnUntil = from): one baseline.
    expect(await text('#replay-range')).toBe(
      '2026-01-26 00:00 … 2026-02-02 00:00 (Asia/Shanghai) · 基线学习数据截至 2026-01-26 00:00 · 已学习基线数 1 · 回测期间按实时方式重新学习次数 6',
    )
    expect(await text('#replay-devices')).toBe(String(a.devices))
    expect(await text('#replay-device-weeks')).toBe(a.deviceWeeks.toFixed(1))
    expect(await text('#replay-alert-count')).toBe(String(a.alerts.length))
    expect(await text('#replay-per-device-week')).toBe(a.alertsPerDeviceWeek.toFixed(2))
    for (const [rule, s] of Object.entries(a.byRule)) {
      const cells = await page.locator(`#replay-rules tr[data-rule="${rule}"] td`).allTextContents()
      expect(cells).toEqual([rule, s.kind, String(s.alerts), String(s.devices)])
    }
    expect(await page.locator('#replay-alerts tbody tr').count()).toBe(a.alerts.length)
    const offline = await page.locator('#replay-alerts tr[data-rule="site-offline"] td').allTextContents()
    expect(offline).toEqual(['2026-01-29 01:01', '2026-01-29 06:00', 'site-offline', '警告', 'l1 / meter', '76.0 min', '75.0 min', '—'])
    const api76 = a.alerts.find((x) => x.rule === 'site-offline')
    expect([api76?.value, api76?.valueUnit, api76?.threshold, api76?.thresholdUnit]).toEqual([76, 'min', 75, 'min'])
    expect(await text('#replay-alerts th[data-col="openedLocal"]')).toBe('发生时间 (Asia/Shanghai)')
    await page.screenshot({ path: join(artifactsDir(), 'view-alerts-replay-1280x800.png'), fullPage: true })

    // English: the same run, English headers.
    await page.click('#lang')
    await page.waitForSelector('#replay-summary', { timeout: 60_000 })
    expect(await text('#replay-alerts th[data-col="valueText"]')).toBe('Value at opening')
    expect(await text('#replay-alerts th[data-col="openedLocal"]')).toBe('Opened (Asia/Shanghai)')
    expect(await text('#replay-rules-basis')).toBe('configured rules')

    // A range without data: the API's code is shown.
    await page.fill('#replay-from', '2027-01-01')
    await page.fill('#replay-to', '2027-01-02')
    await page.click('#replay-run')
    await page.waitForSelector('#replay-error', { timeout: 30_000 })
    expect(await text('#replay-error')).toMatch(/^API_ERR_NOT_FOUND: no telemetry between/)
    await page.close()
  }, 120_000)
})
