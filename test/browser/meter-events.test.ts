import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveApiConfig, startApi } from '../../api/index.ts'
import { hashPassword } from '../../broker/password.ts'
import { validateConfig } from '../../core/config.ts'
import { PlantModelSchema } from '../../core/plant.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import { openEventLog, type EventLog } from '../../storage/events.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../../storage/store.ts'
import { artifactsDir, launchBrowser, type RunningBrowser } from '../browser.ts'

// The meter events view (#/meter-events, 换表记录) in headless Chromium against a real API on the
// embedded store: an engineer records the meter swap of the issue (100,000 → 60,000 kWh), sees it
// refused while its final reading contradicts the data, reads the list, voids it; both languages.

const CJK = /[\u3400-\u9fff]/
const T0 = Date.UTC(2026, 2, 1, 16) // 2026-03-02 00:00 Asia/Shanghai
const main = { enterprise: 'acme', site: 'w1', line: 'l1', device: 'main' }
const plant = validateConfig(
  PlantModelSchema,
  {
    timezone: 'Asia/Shanghai',
    enterprises: [{ id: 'acme', name: 'Acme', sites: [{ id: 'w1', lines: [{ id: 'l1', mainMeter: 'main', devices: [{ id: 'main', name: 'Incomer' }] }] }] }],
  },
  'plant',
)

let dir: string
let store: TelemetryStore
let events: EventLog
let api: { url: string; close(): Promise<void> }
let browser: RunningBrowser

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-ui-meter-events-'))
  const path = join(dir, 'plantwatt.db')
  store = createEmbeddedStore({ path })
  events = await openEventLog({ backend: 'embedded', path })
  // The old meter: 99,700 / 99,850 / 100,000 at 00:00–00:30; the new one 60,100 at 00:45.
  await store.write(
    [99_700, 99_850, 100_000, 60_100].map((v, i) => ({
      measurement: TELEMETRY_MEASUREMENT,
      tags: main,
      fields: { energy_import_kwh: v },
      ts: T0 + i * 900_000,
    })),
  )
  const passwordHash = await hashPassword('engineer-pass', { N: 1024, r: 8, p: 1 })
  api = await startApi({
    store,
    events,
    plant,
    config: resolveApiConfig({
      port: 0,
      auth: {
        users: [{ username: 'li-wei', passwordHash, role: 'engineer', enterprise: 'acme' }],
        apiKeys: [],
        tokenTtlS: 3600,
        jwtSecret: 'meter-events-browser-secret-0123456789',
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

describe('meter events view', () => {
  it('records a meter swap (refused first: the final reading contradicts the data), lists and voids it', async () => {
    const page = await browser.context.newPage()
    await page.goto(`${api.url}/#/login`)
    await page.fill('#login-user', 'li-wei')
    await page.fill('#login-pass', 'engineer-pass')
    await page.click('#login-submit')
    await page.waitForSelector('#me')
    await page.goto(`${api.url}/#/meter-events`)
    await page.waitForSelector('.meter-event-form')
    expect(await page.locator('#nav a[data-view="meter-events"]').textContent()).toBe('换表记录')

    await page.selectOption('.meter-event-device', 'acme/w1/l1/main')
    await page.selectOption('.meter-event-type', 'replacement')
    await page.fill('.meter-event-eventTs', '2026-03-02T00:35')
    await page.fill('.meter-event-oldFinalReading', '99990')
    await page.fill('.meter-event-newStartReading', '60000')
    await page.fill('.meter-event-meterEventReason', 'work order 3381')
    expect(await page.locator('.meter-event-oldRatio').isDisabled()).toBe(true)
    await page.click('.save-meter-event')
    // 99,990 is below the last stored reading 100,000: refused with the field named, nothing written.
    await expect.poll(() => page.locator('#error').textContent()).toContain('oldFinalReading')
    await page.fill('.meter-event-oldFinalReading', '100050')
    await page.click('.save-meter-event')
    await page.fill('.toolbar input[type=date] >> nth=0', '2026-03-01')
    await page.fill('.toolbar input[type=date] >> nth=1', '2026-03-31')
    await page.click('.toolbar:not(.meter-event-form) button')
    await page.waitForSelector('#meter-event-rows tbody tr')
    // columns: type, where, counter, unit, when, the 8 readings, revision, by, at, reason
    expect(await cells(page, 'meter-event-rows', 1)).toEqual(['换表'])
    expect(await cells(page, 'meter-event-rows', 4)).toEqual(['kWh'])
    expect(await cells(page, 'meter-event-rows', 15)).toEqual(['li-wei'])
    await page.screenshot({ path: join(artifactsDir(), 'view-meter-events-1280x800.png'), fullPage: true })

    page.once('dialog', (d) => void d.accept('wrong meter'))
    await page.click('.meter-event-void')
    await page.waitForSelector('#meter-event-history-rows tbody tr')
    await expect.poll(() => cells(page, 'meter-event-history-rows', 2)).toEqual(['有效', '已作废'])

    await page.click('#lang')
    await page.waitForSelector('.meter-event-form')
    const words = [...(await page.locator('#view h2').allTextContents()), ...(await page.locator('.meter-event-form').allTextContents())]
    for (const w of words) expect(w, `"${w}" is not translated`).not.toMatch(CJK)
    await page.close()
  }, 60_000)
})
