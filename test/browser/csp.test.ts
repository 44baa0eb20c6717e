import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { launchBrowser, startDemoStack, type DemoStack, type RunningBrowser } from '../browser.ts'

// The API's Content-Security-Policy (api/security-headers.ts) against the pages that live under it:
// every view of the web UI and the Swagger UI at /docs must work with no violation reported.

let stack: DemoStack
let browser: RunningBrowser

beforeAll(async () => {
  stack = await startDemoStack()
  browser = await launchBrowser()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await stack?.stop()
})

/** A page that records every CSP violation (the DOM event, and Chromium's console report). */
async function watchedPage(): Promise<{ page: Page; violations: string[] }> {
  const page = await browser.context.newPage()
  const violations: string[] = []
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text())
  })
  await page.exposeFunction('__cspViolation', (text: string) => violations.push(text))
  await page.addInitScript(
    `document.addEventListener('securitypolicyviolation', (e) => window.__cspViolation(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')))`,
  )
  return { page, violations }
}

describe('Content-Security-Policy in a browser', () => {
  it('the web UI draws every view without a violation', async () => {
    const { page, violations } = await watchedPage()
    const res = await page.goto(`${stack.url}/#/live`)
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'")
    await page.waitForSelector('#rows tr td:nth-child(4)', { timeout: 20_000 })
    for (const view of ['energy', 'alerts', 'province']) {
      await page.goto(`${stack.url}/#/${view}`)
      await page.waitForLoadState('networkidle')
      await page.waitForTimeout(500)
    }
    // The province view's progress bars are sized through the CSSOM, which the policy allows.
    const widths = (await page.evaluate(`[...document.querySelectorAll('.progress > div')].map((d) => getComputedStyle(d).width)`)) as string[]
    expect(violations).toEqual([])
    expect(widths.length).toBeGreaterThan(0)
    await page.close()
  }, 60_000)

  it('Swagger UI at /docs renders the operations without a violation', async () => {
    const { page, violations } = await watchedPage()
    await page.goto(`${stack.url}/docs`)
    await page.waitForSelector('.opblock', { timeout: 20_000 })
    expect(await page.locator('.opblock').count()).toBeGreaterThan(10)
    // Open one operation: its details render styles and icons too.
    await page.locator('.opblock-summary').first().click()
    await page.waitForTimeout(500)
    expect(violations).toEqual([])
    await page.close()
  }, 60_000)
})
