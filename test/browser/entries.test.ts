import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveApiConfig, startApi } from '../../api/index.ts'
import { hashPassword } from '../../broker/password.ts'
import { ENTRY_TEST_PLANT } from '../../records/testing/plant.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import { openEventLog, type EventLog } from '../../storage/events.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { artifactsDir, launchBrowser, type RunningBrowser } from '../browser.ts'

// The entries view (#/entries, 台账录入) in headless Chromium against a real API on the embedded
// store: an engineer enters a coal day through the form, revises it, reads its history, voids it.

const CJK = /[\u3400-\u9fff]/

let dir: string
let store: TelemetryStore
let events: EventLog
let api: { url: string; close(): Promise<void> }
let browser: RunningBrowser

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-ui-entries-'))
  const path = join(dir, 'plantwatt.db')
  store = createEmbeddedStore({ path })
  events = await openEventLog({ backend: 'embedded', path })
  const passwordHash = await hashPassword('engineer-pass', { N: 1024, r: 8, p: 1 })
  api = await startApi({
    store,
    events,
    plant: ENTRY_TEST_PLANT,
    config: resolveApiConfig({
      port: 0,
      auth: {
        users: [{ username: 'li-wei', passwordHash, role: 'engineer', enterprise: 'hb-cement' }],
        apiKeys: [],
        tokenTtlS: 3600,
        jwtSecret: 'entries-browser-secret-0123456789abcdef',
      },
      rateLimit: { max: 0, loginMax: 0, timeWindowMs: 60_000 },
    }),
  })
  browser = await launchBrowser()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await api?.close()
  await events?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

const cells = (page: Page, table: string, col: number) => page.locator(`#${table} tbody tr td:nth-child(${col})`).allTextContents()

describe('entries view', () => {
  it('enters, revises, shows the history of and voids a coal weighbridge day', async () => {
    const page = await browser.context.newPage()
    await page.goto(`${api.url}/#/login`)
    await page.fill('#login-user', 'li-wei')
    await page.fill('#login-pass', 'engineer-pass')
    await page.click('#login-submit')
    await page.waitForSelector('#me')
    await page.goto(`${api.url}/#/entries`)
    await page.waitForSelector('.entry-form')
    expect(await page.locator('#nav a[data-view="entries"]').textContent()).toBe('台账录入')

    await page.selectOption('.entry-scope', 'hb-cement/plant-a/kiln-1')
    await page.selectOption('.entry-carrier', 'raw-coal')
    await page.fill('.entry-amount', '412.6')
    await page.selectOption('.entry-unit', 't')
    await page.fill('.entry-entryStart', '2026-03-01')
    await page.fill('.entry-entryEnd', '2026-03-02')
    await page.fill('.entry-ncvKjPerUnit', '21500000')
    await page.fill('.entry-source', 'weighbridge')
    await page.fill('.entry-entryReason', 'slip 0301')
    await page.click('.save-entry')
    // the list shows the last 31 days by default: ask for March 2026
    await page.fill('.toolbar input[type=date] >> nth=2', '2026-03-01')
    await page.fill('.toolbar input[type=date] >> nth=3', '2026-03-31')
    await page.click('.toolbar:not(.entry-form) button')
    await page.waitForSelector('#entry-rows tbody tr')
    // columns: kind, where, carrier, direction, amount, unit, start, end, NCV, source, revision, by, at, reason
    expect(await cells(page, 'entry-rows', 3)).toEqual(['raw-coal'])
    expect(await cells(page, 'entry-rows', 11)).toEqual(['1'])
    expect(await cells(page, 'entry-rows', 12)).toEqual(['li-wei'])

    await page.click('.entry-revise')
    expect(await page.inputValue('.entry-amount')).toBe('412.6')
    await page.fill('.entry-amount', '415.2')
    await page.fill('.entry-entryReason', 'slip misread')
    await page.click('.save-entry')
    await expect.poll(() => cells(page, 'entry-rows', 11)).toEqual(['2'])
    expect(await cells(page, 'entry-rows', 14)).toEqual(['slip misread'])

    await page.click('.entry-history')
    await page.waitForSelector('#entry-history-rows tbody tr')
    expect(await cells(page, 'entry-history-rows', 1)).toEqual(['1', '2'])
    await page.screenshot({ path: join(artifactsDir(), 'view-entries-1280x800.png'), fullPage: true })

    page.once('dialog', (d) => void d.accept('entered twice'))
    await page.click('.entry-void')
    await expect.poll(() => cells(page, 'entry-history-rows', 1)).toEqual(['1', '2', '3'])
    expect(await cells(page, 'entry-history-rows', 2)).toEqual(['有效', '有效', '已作废'])
    await page.waitForSelector('#entry-list p.empty')

    await page.click('#lang')
    await page.waitForSelector('.entry-form')
    const words = [...(await page.locator('#view h2').allTextContents()), ...(await page.locator('.entry-form').allTextContents())]
    for (const w of words) expect(w, `"${w}" is not translated`).not.toMatch(CJK)
    await page.click('#lang')
    await page.close()
  }, 60_000)
})
