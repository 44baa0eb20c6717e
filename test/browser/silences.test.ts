import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveApiConfig, startApi } from '../../api/index.ts'
import { hashPassword } from '../../broker/password.ts'
import { validateConfig } from '../../core/config.ts'
import { PlantModelSchema } from '../../core/plant.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import { openEventLog, type EventLog } from '../../storage/events.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { artifactsDir, launchBrowser, type RunningBrowser } from '../browser.ts'

// The silences panel of the alerts view in headless Chromium against a real API on the embedded
// store: an engineer plans a maintenance window for tomorrow 08:00–12:00 (plant local, Asia/Shanghai)
// on one device, and silences a line from now for 2 h; the API stores exactly those instants; the
// form in English has no Chinese left.

const CJK = /[\u3400-\u9fff]/
const HOUR = 3_600_000
const plant = validateConfig(
  PlantModelSchema,
  {
    timezone: 'Asia/Shanghai',
    enterprises: [
      { id: 'acme', name: 'Acme', sites: [{ id: 'w1', name: 'Wuhan', lines: [{ id: 'l1', name: 'Line 1', devices: [{ id: 'main', name: 'Incomer' }] }] }] },
    ],
  },
  'plant',
)
const ADMIN_KEY = 'silences-browser-admin-key'

let dir: string
let store: TelemetryStore
let events: EventLog
let api: { url: string; close(): Promise<void> }
let browser: RunningBrowser

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-ui-silences-'))
  const path = join(dir, 'plantwatt.db')
  store = createEmbeddedStore({ path })
  events = await openEventLog({ backend: 'embedded', path })
  const passwordHash = await hashPassword('engineer-pass', { N: 1024, r: 8, p: 1 })
  api = await startApi({
    store,
    events,
    plant,
    config: resolveApiConfig({
      port: 0,
      auth: {
        users: [{ username: 'li-wei', passwordHash, role: 'engineer', enterprise: 'acme' }],
        apiKeys: [{ id: 'admin', keyHash: `sha256$${createHash('sha256').update(ADMIN_KEY).digest('hex')}`, role: 'admin' }],
        tokenTtlS: 3600,
        jwtSecret: 'silences-browser-secret-0123456789abcdef',
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

interface Row {
  id: string
  state: string
  line: string | null
  device: string | null
  start: number
  end: number
  reason: string
  createdBy: string
}
const silences = async (): Promise<Row[]> =>
  ((await (await fetch(`${api.url}/api/v1/silences`, { headers: { 'x-api-key': ADMIN_KEY } })).json()) as { rows: Row[] }).rows

describe('silences panel', () => {
  it('plans a window for tomorrow (start and end time), silences a line from now for a duration; both languages', async () => {
    // Tomorrow's date in Shanghai (UTC+8, no DST); 08:00 and 12:00 there as instants.
    const tomorrow = new Date(Date.now() + 8 * HOUR + 24 * HOUR).toISOString().slice(0, 10)
    const start = Date.parse(`${tomorrow}T08:00:00+08:00`)
    const end = Date.parse(`${tomorrow}T12:00:00+08:00`)

    const page = await browser.context.newPage()
    await page.goto(`${api.url}/#/login`)
    await page.fill('#login-user', 'li-wei')
    await page.fill('#login-pass', 'engineer-pass')
    await page.click('#login-submit')
    await page.waitForSelector('#me')
    await page.goto(`${api.url}/#/alerts`)
    await page.waitForSelector('.silence-form')
    expect(await page.locator('.silence-end').isDisabled()).toBe(true) // a duration is chosen by default

    await page.selectOption('.silence-scope', 'acme/w1/l1/main')
    await page.fill('.silence-start', `${tomorrow}T08:00`)
    await page.selectOption('.silence-hours', 'until')
    expect(await page.locator('.silence-end').isDisabled()).toBe(false)
    await page.fill('.silence-end', `${tomorrow}T12:00`)
    await page.fill('.silence-reason', '计划检修 transformer service')
    await page.click('.create-silence')
    await expect.poll(async () => (await silences()).length).toBe(1)
    const [planned] = await silences()
    expect(planned).toMatchObject({ state: 'scheduled', line: 'l1', device: 'main', start, end, reason: '计划检修 transformer service', createdBy: 'li-wei' })
    const plannedRow = page.locator(`#silence-rows tr[data-silence="${planned?.id}"]`)
    await plannedRow.waitFor()
    expect(await plannedRow.locator('.badge').textContent()).toBe('未开始')
    // Shown in the plant's zone, as entered (the browser runs in UTC here).
    const [shownStart, shownEnd] = await plannedRow.locator('td:nth-child(3), td:nth-child(4)').allTextContents()
    expect([shownStart, shownEnd]).toEqual([`${tomorrow.replace(/-0?/g, '/')} 08:00:00`, `${tomorrow.replace(/-0?/g, '/')} 12:00:00`])

    // From now (start left empty) for 2 h, on the whole line.
    await page.fill('.silence-start', '')
    await page.selectOption('.silence-scope', 'acme/w1/l1')
    await page.selectOption('.silence-hours', '2')
    expect(await page.locator('.silence-end').isDisabled()).toBe(true)
    await page.fill('.silence-reason', 'trial run')
    const before = Date.now()
    await page.click('.create-silence')
    await expect.poll(async () => (await silences()).length).toBe(2)
    const now = (await silences()).find((r) => r.reason === 'trial run')
    expect(now).toMatchObject({ state: 'active', line: 'l1', device: null })
    expect(now?.start).toBeGreaterThanOrEqual(before - 1000)
    expect((now?.end ?? 0) - (now?.start ?? 0)).toBe(2 * HOUR)
    await expect.poll(() => page.locator('#silence-rows tbody tr').count()).toBe(2)
    await page.screenshot({ path: join(artifactsDir(), 'view-silences-1280x800.png'), fullPage: true })

    await page.click('#lang')
    await page.waitForSelector('.silence-form')
    const form = page.locator('.silence-form')
    const words = [
      ...(await form.allTextContents()),
      ...(await form.locator('[aria-label]').evaluateAll((els) => els.map((e) => `${e.getAttribute('aria-label')} ${e.getAttribute('title') ?? ''}`))),
    ]
    for (const w of words) expect(w, `"${w}" is not translated`).not.toMatch(CJK)
    expect(await page.locator('.silence-hours option[value="until"]').textContent()).toBe('until an end time')
    await page.close()
  }, 60_000)
})
