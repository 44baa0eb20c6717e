import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveApiConfig, startApi } from '../../api/index.ts'
import { hashPassword } from '../../broker/password.ts'
import { billModel, billPoints } from '../../reports/testing/bill-fixture.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { launchBrowser, type RunningBrowser } from '../browser.ts'

// The bill check view (#/bill, 电费核对) in headless Chromium against a real API on the embedded store
// holding reports/testing/bill-fixture.ts: account arc, March 2026, total 95 866.43 (reports/bill.test.ts).

let dir: string
let store: TelemetryStore
let api: { url: string; close(): Promise<void> }
let browser: RunningBrowser

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-ui-bill-'))
  store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
  await store.write(billPoints())
  const passwordHash = await hashPassword('manager-pass', { N: 1024, r: 8, p: 1 })
  api = await startApi({
    store,
    plant: billModel,
    config: resolveApiConfig({
      port: 0,
      auth: {
        users: [{ username: 'wang-fang', passwordHash, role: 'engineer', enterprise: 'steel' }],
        apiKeys: [],
        tokenTtlS: 3600,
        jwtSecret: 'bill-browser-secret-0123456789abcdef',
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

describe('bill check view', () => {
  it("shows an account's month line by line, in Chinese and English", async () => {
    const page = await browser.context.newPage()
    await page.goto(`${api.url}/#/login`)
    await page.fill('#login-user', 'wang-fang')
    await page.fill('#login-pass', 'manager-pass')
    await page.click('#login-submit')
    await page.waitForSelector('#me')
    await page.goto(`${api.url}/#/bill?account=steel/works/arc&month=2026-03`)
    await page.waitForSelector('#bill-summary', { timeout: 30_000 })
    expect(await page.locator('#nav a[data-view="bill"]').textContent()).toBe('电费核对')
    const summary = await page.locator('#bill-summary').textContent()
    // 95 866.43 CNY shown without decimals above 1000; sliding 1000 kW, fixed 580 kW; PF 0.80, +5 %.
    expect(summary).toContain('95,866')
    expect(summary).toContain('580.0')
    expect(summary).toContain('+5 %')
    expect(await page.locator('#bill-body tbody tr').count()).toBe(12)
    await page.click('#lang')
    await page.waitForSelector('#bill-summary')
    expect(await page.locator('#nav a[data-view="bill"]').textContent()).toBe('Bill check')
    expect(await page.locator('#bill-body th[data-col="amount"]').textContent()).toBe('Amount')
    await page.close()
  }, 60_000)
})
