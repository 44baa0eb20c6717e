import { request } from 'node:http'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UI_FILES } from '../api/routes/web.ts'
import { launchBrowser, loadLivePage, startDemoStack } from '../test/browser.ts'

/** Web UI figures for `npm run bench`. */
export interface UiBenchmarkResult {
  /** Median over the loads: navigation start until every device row shows its power, ms. */
  firstValuesMs: number
  /** Bytes of the live page and its static resources as the browser received them by the time the values showed (API calls excluded). */
  pageBytes: number
  /** Bytes of the page and every UI file (app.js, app.css, uplot.js, uplot.css) gzipped as served: the whole UI a browser ever downloads. */
  bundleGzipBytes: number
  /** The same per file, as served (gzip); `/` is the page. */
  bundleFiles: Record<string, number>
}

/** Loads of the page measured; the median is reported. */
const LOADS = 7

/** Body bytes of one GET as sent on the wire (no decompression), with Accept-Encoding: gzip. */
function servedBytes(url: string): Promise<{ bytes: number; encoding: string }> {
  return new Promise((ok, fail) => {
    const req = request(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
      })
      res.on('end', () =>
        res.statusCode === 200
          ? ok({ bytes, encoding: String(res.headers['content-encoding'] ?? 'identity') })
          : fail(new Error(`bench ui: GET ${url} answered ${res.statusCode}`)),
      )
      res.on('error', fail)
    })
    req.on('error', fail)
    req.end()
  })
}

/**
 * Starts the demo plant in this process (examples/demo.yaml, free ports, temporary store), waits
 * until the API has values, then loads `/` in a fresh headless Chromium page LOADS times; and
 * measures every UI file as served.
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
    const bundleFiles: Record<string, number> = {}
    for (const path of ['/', ...UI_FILES.map((f) => `/ui/${f}`)]) {
      const { bytes, encoding } = await servedBytes(`${stack.url}${path}`)
      if (encoding !== 'gzip') throw new Error(`bench ui: ${path} was served ${encoding}, not gzip`)
      bundleFiles[path] = bytes
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
      return {
        firstValuesMs: Math.round(times[Math.floor(times.length / 2)]!),
        pageBytes,
        bundleGzipBytes: Object.values(bundleFiles).reduce((a, b) => a + b, 0),
        bundleFiles,
      }
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
