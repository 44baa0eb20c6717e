import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveApiConfig, startApi } from '../../api/index.ts'
import { hashPassword } from '../../broker/password.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { Outbox } from '../../upload/outbox.ts'
import { UploadsBook } from '../../upload/status.ts'
import { launchBrowser, type RunningBrowser } from '../browser.ts'

// The province uploads view (#/uploads, 省平台上报) in headless Chromium against a real API whose
// uploads come from a real outbox: one record acknowledged, one refused with the province's reason,
// one pending.

let dir: string
let store: TelemetryStore
let outbox: Outbox
let api: { url: string; close(): Promise<void> }
let browser: RunningBrowser
const NOV = Date.UTC(2026, 9, 31, 16)
const D = 86_400_000

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-ui-uploads-'))
  store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
  outbox = new Outbox(join(dir, 'outbox.sqlite'))
  outbox.enqueue(
    [0, 1, 2].map((i) => ({
      indicator: 'energy',
      subject: 'boundary',
      carrier: 'electricity',
      period: 'day',
      start: NOV + i * D,
      end: NOV + (i + 1) * D,
      value: 100 + i,
      unit: 'kWh',
      basis: 'test',
    })),
    1000,
  )
  const due = outbox.due(1000, 10)
  outbox.acked([due[0]?.id ?? 0], 'receipt-42', 2000)
  outbox.rejected(due[1]?.id ?? 0, '400 PROVINCE_ERR_INVALID: /records/0/value')
  const uploads = new UploadsBook()
  uploads.register('steel', outbox)
  const passwordHash = await hashPassword('manager-pass', { N: 1024, r: 8, p: 1 })
  api = await startApi({
    store,
    uploads,
    config: resolveApiConfig({
      port: 0,
      auth: {
        users: [{ username: 'wang-fang', passwordHash, role: 'engineer', enterprise: 'steel' }],
        apiKeys: [],
        tokenTtlS: 3600,
        jwtSecret: 'uploads-browser-secret-0123456789abcdef',
      },
      rateLimit: { max: 0, loginMax: 0, timeWindowMs: 60_000 },
    }),
  })
  browser = await launchBrowser()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await api?.close()
  outbox?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('province uploads view', () => {
  it('shows what was acknowledged, what waits and what the province refused and why, in Chinese and English', async () => {
    const page = await browser.context.newPage()
    await page.goto(`${api.url}/#/login`)
    await page.fill('#login-user', 'wang-fang')
    await page.fill('#login-pass', 'manager-pass')
    await page.click('#login-submit')
    await page.waitForSelector('#me')
    await page.goto(`${api.url}/#/uploads`)
    await page.waitForSelector('#uploads-steel-acked', { timeout: 30_000 })
    expect(await page.locator('#nav a[data-view="uploads"]').textContent()).toBe('省平台上报')
    expect(await page.locator('#uploads-steel-acked').textContent()).toBe('1')
    expect(await page.locator('#uploads-steel-rejected').textContent()).toBe('1')
    expect(await page.locator('#uploads-steel-pending').textContent()).toBe('1')
    expect(await page.locator('#uploads-steel-rejected-rows tbody').textContent()).toContain('400 PROVINCE_ERR_INVALID: /records/0/value')
    expect(await page.locator('#uploads-steel-acked-rows tbody').textContent()).toContain('receipt-42')
    await page.click('#lang')
    await page.waitForSelector('#uploads-steel-acked')
    expect(await page.locator('#nav a[data-view="uploads"]').textContent()).toBe('Province uploads')
    await page.close()
  }, 60_000)
})
