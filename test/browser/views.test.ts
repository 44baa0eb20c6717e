import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import {
  appendTestAlert,
  artifactsDir,
  launchBrowser,
  SCENARIO_USERS,
  startScenarioStack,
  type RunningBrowser,
  type ScenarioStack,
  type StackUser,
} from '../browser.ts'

// The hubei scenario (3 enterprises) with 10 days of history, auth on, one browser; a page per user.
const TABLET = { width: 768, height: 1024 }
const DESKTOP = { width: 1280, height: 800 }
const CLINKER = 'edong-cement/huangshi/clinker-1'
const CJK = /[\u3400-\u9fff]/
const DAY = 86_400_000

let stack: ScenarioStack
let browser: RunningBrowser
let firingId: string
let resolvedId: string
let otherId: string
const tokens = new Map<string, string>()

async function token(user: StackUser): Promise<string> {
  let tok = tokens.get(user.username)
  if (!tok) tokens.set(user.username, (tok = await stack.login(user)))
  return tok
}

async function getJson<T>(user: StackUser, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.url}/api/v1/${path}`, {
    ...init,
    headers: { authorization: `Bearer ${await token(user)}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  })
  return { status: res.status, body: (await res.json()) as T }
}

/** A new page signed in through the form; lands on the live view. */
async function signIn(user: StackUser): Promise<Page> {
  const page = await browser.context.newPage()
  await page.goto(`${stack.url}/#/login`)
  await page.fill('#login-user', user.username)
  await page.fill('#login-pass', user.password)
  await page.click('#login-submit')
  await page.waitForSelector('#rows tr td:nth-child(4)')
  return page
}

const overflow = (page: Page) => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth').then(Number)

/** Screenshots at 1280×800 and tablet size, each after checking the page does not scroll sideways. */
async function shoot(page: Page, name: string): Promise<void> {
  const dir = artifactsDir()
  for (const size of [DESKTOP, TABLET]) {
    await page.setViewportSize(size)
    await expect.poll(() => overflow(page), { message: `${name} at ${size.width}×${size.height} scrolls sideways` }).toBeLessThanOrEqual(0)
    // Charts are redrawn 100 ms after a resize.
    await page.waitForTimeout(300)
    await page.screenshot({ path: join(dir, `view-${name}-${size.width}x${size.height}.png`), fullPage: true })
  }
  await page.setViewportSize(DESKTOP)
}

/** Switches to English, checks what `headers` selects is English (no Chinese characters), switches back. */
async function checkEnglish(page: Page, ready: string, headers: string): Promise<void> {
  expect(await page.getAttribute('html', 'lang')).toBe('zh-CN')
  await page.click('#lang')
  await expect.poll(() => page.getAttribute('html', 'lang')).toBe('en')
  await page.waitForSelector(ready)
  const texts = await page.locator(headers).allTextContents()
  expect(texts.length).toBeGreaterThan(0)
  for (const text of texts) expect(text, `"${text}" is not translated`).not.toMatch(CJK)
  expect(await page.locator('#nav').textContent()).not.toMatch(CJK)
  await page.click('#lang')
  await expect.poll(() => page.getAttribute('html', 'lang')).toBe('zh-CN')
  await page.waitForSelector(ready)
  expect((await page.locator(headers).allTextContents()).join(' ')).toMatch(CJK)
}

beforeAll(async () => {
  ;[stack, browser] = await Promise.all([startScenarioStack({ historyDays: 10, machines: true }), launchBrowser()])
  const eng = SCENARIO_USERS.engineer
  // A baseline of clinker-1 on the first seven full days of history (valid: ≥ 3 days per parameter and R², CV(RMSE) within limits), so the savings part has a CUSUM.
  const baselineStart = new Date(stack.history.start + DAY).toISOString().slice(0, 10)
  const baselineStop = new Date(stack.history.start + 8 * DAY).toISOString().slice(0, 10)
  const fit = await getJson<{ revision: { row: { revision: number; valid: boolean; validityReasons: string } } }>(eng, 'baselines', {
    method: 'POST',
    body: JSON.stringify({ scope: CLINKER, baselineStart, baselineStop, variables: ['production'], period: 'day', reason: 'browser test baseline' }),
  })
  expect(fit.status, JSON.stringify(fit.body)).toBe(201)
  expect(fit.body.revision.row.valid, fit.body.revision.row.validityReasons).toBe(true)
  // The alert service is not part of startAll: its events are appended where the API reads them.
  const now = Date.now()
  const main = { enterprise: 'edong-cement', site: 'huangshi', line: 'clinker-1', device: 'main' }
  firingId = await appendTestAlert(stack.events, {
    address: main,
    rule: 'clinker-overload',
    severity: 'critical',
    quantity: 'active_power_kw',
    value: 13100,
    threshold: 12500,
    openedAt: now - 600_000,
  })
  resolvedId = await appendTestAlert(stack.events, {
    address: { ...main, device: 'coal-mill' },
    rule: 'pf-low',
    ruleKind: 'power_factor',
    severity: 'warning',
    quantity: 'power_factor',
    value: 0.84,
    threshold: 0.9,
    openedAt: now - 2 * DAY,
    clearedAfterMs: 3_600_000,
  })
  otherId = await appendTestAlert(stack.events, {
    address: { enterprise: 'hanjiang-autoparts', site: 'xiangyang', line: 'knuckle', device: 'main' },
    rule: 'knuckle-standby',
    ruleKind: 'standby',
    severity: 'info',
    quantity: 'active_power_kw',
    value: 300,
    threshold: 100,
    openedAt: now - 1_200_000,
  })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await stack?.stop()
})

describe('web UI on the hubei scenario in Chromium', () => {
  it('live view (commission): power, devices and today’s figures that change; Chinese and English', async () => {
    const page = await signIn(SCENARIO_USERS.commission)
    // Default line: the first of the plant, clinker-1: main meter + 5 sub-meters + the kiln DCS.
    expect(await page.locator('#line-select').inputValue()).toBe(CLINKER)
    const first = await page.locator('#kpi-power').textContent()
    expect(first).toMatch(/^[\d,]+(\.\d)? kW$/)
    await expect.poll(() => page.locator('#kpi-power').textContent(), { timeout: 6_000 }).not.toBe(first)
    expect(await page.locator('#rows tr').count()).toBe(7)
    // Today's energy, cost by period and carbon come from the reports, figures as the API gives them.
    await page.waitForSelector('#cost-periods tbody tr')
    const energyShown = Number((await page.locator('#kpi-energy').textContent())!.replace(/[^\d.]/g, ''))
    expect(energyShown).toBeGreaterThan(0)
    expect(await page.locator('#kpi-cost').textContent()).toMatch(/^¥ [\d,.]+$/)
    expect(await page.locator('#kpi-co2-sub').textContent()).toContain('hubei')
    expect(await page.locator('#cost-periods tbody .badge').first().textContent()).toMatch(/^(尖峰|高峰|平段|低谷|深谷)$/)
    await page.waitForFunction('document.querySelector("#power-chart canvas") !== null')
    await checkEnglish(page, '#cost-periods tbody tr', 'th, h2, .kpi .label')
    await shoot(page, 'live')
    // A line with OPC UA machines: each shows its state as the API has it (0 stopped … 3 fault).
    await page.selectOption('#line-select', 'hanjiang-autoparts/xiangyang/brake-disc')
    const machines = page.locator('#machines .machine')
    await expect.poll(() => machines.count()).toBe(3)
    const live = await getJson<{ devices: { device: string; values: Record<string, number> }[] }>(SCENARIO_USERS.commission, 'live?line=brake-disc')
    const words = ['停机', '待机', '运行', '故障']
    await expect.poll(async () => (await machines.locator('.badge').allTextContents()).every((w) => words.includes(w)), { timeout: 15_000 }).toBe(true)
    const cnc = live.body.devices.find((d) => d.device === 'cnc-01')!.values.machine_state!
    expect(await page.locator('#machines .machine[data-device="cnc-01"] .badge').textContent()).toBe(words[cnc])
    await shoot(page, 'live-machines')
    await page.close()
  })

  it('energy & efficiency: energy/cost/CO2 per day, SEC with grade, baseline vs actual with CUSUM', async () => {
    const page = await signIn(SCENARIO_USERS.engineer)
    await page.goto(`${stack.url}/#/energy?scope=${CLINKER}&granularity=day`)
    await page.waitForSelector('#energy-rows tbody tr')
    await page.waitForSelector('#savings-rows tbody tr', { timeout: 15_000 })
    // 7 local days ending today (default range).
    expect(await page.locator('#energy-rows tbody tr').count()).toBe(7)
    // One row per indicator: clinker 综合能耗 (kgce/t, coal + electricity) and its companion 综合电耗 (kWh/t).
    const sec = page.locator('#sec-rows tbody tr')
    expect(await sec.count()).toBe(2)
    expect(await sec.nth(0).locator('td').nth(1).textContent()).toBe('clinker')
    expect(await sec.nth(0).locator('td').nth(5).textContent()).toBe('kgce/t')
    expect(await sec.nth(1).locator('td').nth(5).textContent()).toBe('kWh/t')
    // Savings: the total shown is the API's, and the CUSUM column is the running sum of the savings column.
    const tz = 'Asia/Shanghai'
    const local = (ms: number) => new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date(ms))
    // The view starts at the first baseline in force (its effectiveFrom, after the default range's start).
    const baselines = await getJson<{ rows: { effectiveFrom: number }[] }>(SCENARIO_USERS.engineer, `baselines?scope=${CLINKER}`)
    const from = baselines.body.rows[0]!.effectiveFrom
    expect(local(from) >= local(Date.now() - 6 * DAY)).toBe(true)
    const api = await getJson<{ totalSavings: number; rows: { savings: number; cusum: number }[] }>(
      SCENARIO_USERS.engineer,
      `savings?scope=${CLINKER}&start=${from}&stop=${local(Date.now() + DAY)}`,
    )
    expect(api.status).toBe(200)
    const shownTotal = Number((await page.locator('#total-savings').textContent())!.replace(/[^\d.-]/g, ''))
    expect(Math.abs(shownTotal - api.body.totalSavings)).toBeLessThanOrEqual(Math.abs(api.body.totalSavings) >= 1000 ? 0.5 : 0.05)
    const cols = await page.locator('#savings-rows tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)))
    expect(cols.length).toBe(api.body.rows.length)
    let run = 0
    for (const r of api.body.rows) {
      run += r.savings
      expect(r.cusum).toBeCloseTo(run, 6)
    }
    await checkEnglish(page, '#sec-rows tbody tr', 'th, h2')
    await shoot(page, 'energy')
    await page.close()
  })

  it('alerts: an engineer sees the open alert of his enterprise, acknowledges it with a comment, and the API agrees', async () => {
    const page = await signIn(SCENARIO_USERS.engineer)
    await page.goto(`${stack.url}/#/alerts`)
    const row = page.locator(`#open-alert-rows tr[data-alert="${firingId}"]`)
    await row.waitFor()
    // Only his enterprise: the Hanjiang alert is not listed, the resolved one is in the history.
    expect(await page.locator(`tr[data-alert="${otherId}"]`).count()).toBe(0)
    expect(await page.locator(`#alert-history-rows tr[data-alert="${resolvedId}"]`).count()).toBe(1)
    await checkEnglish(page, `#open-alert-rows tr[data-alert="${firingId}"]`, 'th, h2')
    await shoot(page, 'alerts')
    await row.locator('.ack-comment').fill('checked the kiln: feed rate raised for 10 min')
    await row.locator('button.ack').click()
    await expect.poll(() => row.locator('.badge.acknowledged').count()).toBe(1)
    const after = await getJson<{ alert: { state: string; acknowledgedBy: string; comment: string } }>(SCENARIO_USERS.commission, `alerts/${firingId}`)
    expect(after.body.alert).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'eng-edong', comment: 'checked the kiln: feed rate raised for 10 min' })
    // The alert's history, opened from the message link.
    await row.locator('.alert-link').click()
    await expect.poll(() => page.locator('#alert-events tbody tr').count()).toBe(2)
    await page.close()
  })

  it('province view (commission): progress, the three enterprises sortable, CSV export, drill-down', async () => {
    const page = await signIn(SCENARIO_USERS.commission)
    await page.goto(`${stack.url}/#/province`)
    await page.waitForSelector('#enterprise-rows tbody tr')
    const ids = await page.locator('#enterprise-rows tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-enterprise')))
    expect([...ids].sort()).toEqual(['edong-cement', 'hanjiang-autoparts', 'jiangcheng-steel'])
    const api = await getJson<{ progress: { qualified: number; target: number } }>(SCENARIO_USERS.commission, 'commission/overview')
    expect(await page.locator('#qualified').textContent()).toBe(`${api.body.progress.qualified} / ${api.body.progress.target}`)
    // Sort by NC rate: ascending, then descending on a second click.
    const ncRates = async () => (await page.locator('#enterprise-rows tbody tr td:nth-child(4)').allTextContents()).map((s) => Number.parseFloat(s))
    await page.click('#enterprise-rows th[data-col="ncRate"]')
    const asc = await ncRates()
    expect(asc).toEqual([...asc].sort((a, b) => a - b))
    await page.click('#enterprise-rows th[data-col="ncRate"]')
    expect(await ncRates()).toEqual([...asc].reverse())
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')])
    const csv = readFileSync((await download.path())!, 'utf8')
      .trim()
      .split(/\r\n/)
    expect(csv).toHaveLength(4)
    expect(csv[0]).toContain('enterprise')
    await checkEnglish(page, '#enterprise-rows tbody tr', 'th, h2, .kpi .label')
    await shoot(page, 'province')
    await page.click('a.drill[data-enterprise="jiangcheng-steel"]')
    await page.waitForSelector('#enterprise-lines tbody tr')
    expect(await page.locator('#enterprise-name').textContent()).toContain('武汉江城特钢')
    expect(await page.locator('#enterprise-lines tbody tr').count()).toBe(2)
    await checkEnglish(page, '#enterprise-lines tbody tr', 'th')
    await shoot(page, 'enterprise')
    await page.close()
  })

  it('an engineer of one enterprise sees only it: lines, no province view, and the API refuses the rest from his page', async () => {
    const page = await signIn(SCENARIO_USERS.otherEngineer)
    const options = await page.locator('#line-select option').evaluateAll((os) => os.map((o) => o.getAttribute('value')))
    expect(options).toEqual(['hanjiang-autoparts/xiangyang/brake-disc', 'hanjiang-autoparts/xiangyang/knuckle'])
    expect(await page.locator('#nav a[data-view="province"]').isHidden()).toBe(true)
    await page.goto(`${stack.url}/#/province`)
    await page.waitForSelector('#forbidden')
    await page.goto(`${stack.url}/#/alerts`)
    await page.locator(`tr[data-alert="${otherId}"]`).waitFor()
    expect(await page.locator(`tr[data-alert="${firingId}"]`).count()).toBe(0)
    // Straight from the page, with the token the UI holds.
    const statuses = await page.evaluate(`(async () => {
      const h = { authorization: 'Bearer ' + sessionStorage.getItem('pw.token') }
      const get = async (p) => { const r = await fetch('/api/v1/' + p, { headers: h }); return [r.status, await r.json()] }
      const now = Date.now()
      return {
        overview: (await get('commission/overview'))[0],
        detail: (await get('commission/enterprises/edong-cement'))[0],
        energy: (await get('energy?scope=edong-cement&start=' + (now - 86400000) + '&stop=' + now))[0],
        series: (await get('series?device=edong-cement/huangshi/clinker-1/main&quantity=active_power_kw&start=' + (now - 3600000) + '&stop=' + now))[0],
        alert: (await get('alerts/${firingId}'))[0],
        ack: (await fetch('/api/v1/alerts/${firingId}/ack', { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: '{}' })).status,
        live: (await get('live?enterprise=edong-cement'))[1].devices.length,
        table: (await get('commission/enterprises'))[1].rows.map((r) => r.enterprise),
      }
    })()`)
    expect(statuses).toEqual({ overview: 403, detail: 404, energy: 404, series: 404, alert: 404, ack: 404, live: 0, table: ['hanjiang-autoparts'] })
    await page.close()
  })

  it('asks to sign in when auth is on; the form and a wrong password', async () => {
    const page = await browser.context.newPage()
    await page.goto(`${stack.url}/`)
    await page.waitForSelector('#login-user')
    await page.fill('#login-user', 'eng-edong')
    await page.fill('#login-pass', 'wrong')
    await page.click('#login-submit')
    await expect.poll(() => page.locator('#login-error').textContent()).toContain('API_ERR_UNAUTHORIZED')
    await shoot(page, 'login')
    await checkEnglish(page, '#login-user', '.login h2, .login label')
    await page.close()
  })

  it('an operator: live view and alerts, no energy reports in the menu or the view', async () => {
    const page = await signIn(SCENARIO_USERS.operator)
    expect(await page.locator('#nav a[data-view="energy"]').isHidden()).toBe(true)
    expect(await page.locator('#nav a[data-view="province"]').isHidden()).toBe(true)
    // Today's cost is a report: refused in words, not an error.
    await expect.poll(() => page.locator('#cost-table').textContent()).toBe('当前角色无权查看此页')
    await page.goto(`${stack.url}/#/energy`)
    await expect.poll(() => page.locator('#energy-table').textContent()).toBe('当前角色无权查看此页')
    await page.goto(`${stack.url}/#/alerts`)
    await page.locator(`#alert-history-rows tr[data-alert="${resolvedId}"]`).waitFor()
    await page.close()
  })
})
