import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchBrowser, loadLivePage, startDemoStack } from '../test/browser.ts'

/** Web UI figures for `npm run bench`. */
export interface UiBenchmarkResult {
  /** Median over the loads: navigation start until every device row shows its power, ms. */
  firstValuesMs: number
  /** Bytes of the live page and its static resources (bodies as transferred, API calls excluded). */
  pageBytes: number
}

/** Loads of the page measured; the median is reported. */
const LOADS = 7

/**
 * Starts the demo plant in this process (examples/demo.yaml, free ports, temporary store), waits
 * until the API has values, then loads `/` in a fresh headless Chromium page LOADS times.
 */
export async function runUiBenchmark(): Promise<UiBenchmarkResult> {
  const stack = await startDemoStack()
  try {
    // The page is measured, not the stack's start: wait for the API to have values of every device.
    const deadline = Date.now() + 30_000
    for (;;) {
      const live = (await (await fetch(`${stack.url}/api/v1/live`)).json()) as { devices: { values: Record<string, number> }[] }
      if (live.devices.length > 0 && live.devices.every((d) => d.values.active_power_kw !== undefined)) break
      if (Date.now() > deadline) throw new Error('bench ui: no live values from the demo plant within 30 s')
      await new Promise((r) => setTimeout(r, 200))
    }
    const browser = await launchBrowser()
    try {
      const times: number[] = []
      let pageBytes = 0
      for (let i = 0; i < LOADS; i++) {
        // A new page per load (same profile): `/` is served with cache-control no-cache and no validator, so each load fetches it.
        const page = await browser.context.newPage()
        const load = await loadLivePage(page, stack.url)
        times.push(load.firstValuesMs)
        pageBytes = load.pageBytes
        await page.close()
      }
      times.sort((a, b) => a - b)
      return { firstValuesMs: Math.round(times[Math.floor(times.length / 2)]!), pageBytes }
    } finally {
      await browser.close()
    }
  } finally {
    await stack.stop()
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await runUiBenchmark()))
}
