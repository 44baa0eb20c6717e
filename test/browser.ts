import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { silentLogger } from '../core/logger.ts'
import { loadPlantWattConfig, type ResolvedConfig } from '../cli/config.ts'
import { closeAll, startAll, type UpResult } from '../cli/wiring.ts'
import { hasCommand, requireCommand } from './system.ts'

/** Debian's Chromium; playwright-core drives it instead of downloading its own browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium'

/**
 * Without the background-networking flags Chromium's own connections (updates, sync, field trials)
 * are refused in a sandboxed CI and slow every start; --no-sandbox because tests may run as root.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const

/** Debian package giving Chromium Chinese glyphs; without one the page's Chinese renders as empty boxes. */
export const CJK_FONT_PACKAGE = 'fonts-noto-cjk'

function hasCjkFont(): boolean {
  const r = spawnSync('fc-list', [':lang=zh', 'family'], { encoding: 'utf8' })
  return r.status === 0 && r.stdout.trim().length > 0
}

/**
 * Makes sure fontconfig knows a Chinese font: installs the Debian package when running as root with
 * apt-get, otherwise fails naming it. Screenshots of a Chinese-first UI are worthless without one.
 */
export function requireCjkFont(): void {
  if (hasCjkFont()) return
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (isRoot && hasCommand('apt-get')) {
    try {
      execFileSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${CJK_FONT_PACKAGE} || ((apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${CJK_FONT_PACKAGE})`], {
        stdio: 'inherit',
        timeout: 600_000,
      })
    } catch {
      // fall through to the message below
    }
    if (hasCjkFont()) return
  }
  throw new Error(`browser tests need a Chinese font from the Debian package '${CJK_FONT_PACKAGE}': install it (apt-get install ${CJK_FONT_PACKAGE}) and run the tests again`)
}

/** A headless Chromium with its own throw-away profile. */
export interface RunningBrowser {
  /** The browser's one (persistent) context: open pages with `context.newPage()`. */
  context: BrowserContext
  /** Closes the browser and removes its profile folder. Safe to call twice. */
  close(): Promise<void>
}

/**
 * Launches Debian's `chromium` headless through playwright-core with a fresh profile folder
 * (`--user-data-dir`) in a temporary folder; `viewport` in CSS pixels, default 1280×800.
 * Installs the Debian packages (`chromium`, a CJK font) when it can (root + apt), otherwise fails
 * naming them.
 */
export async function launchBrowser(viewport: { width: number; height: number } = { width: 1280, height: 800 }): Promise<RunningBrowser> {
  requireCommand('chromium', 'chromium')
  requireCjkFont()
  const profile = mkdtempSync(join(tmpdir(), 'pw-chromium-'))
  let context: BrowserContext
  try {
    // playwright-core passes the profile folder to Chromium as --user-data-dir.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport,
      timeout: 30_000,
    })
  } catch (err) {
    rmSync(profile, { recursive: true, force: true })
    throw err
  }
  let closed = false
  return {
    context,
    async close() {
      if (closed) return
      closed = true
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** The demo plant (examples/demo.yaml) running in this process, on free ports and a temporary store. */
export interface DemoStack {
  up: UpResult
  /** Base URL of the API and web UI, without a trailing slash. */
  url: string
  stop(): Promise<void>
}

const DEMO = join(import.meta.dirname, '..', 'examples', 'demo.yaml')

/** Starts examples/demo.yaml with `startAll`: broker and API on port 0, embedded store in a temp folder. */
export async function startDemoStack(): Promise<DemoStack> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-ui-'))
  const logger = silentLogger()
  const base = loadPlantWattConfig(DEMO)
  const cfg: ResolvedConfig = {
    ...base,
    storage: { backend: 'embedded', path: join(dir, 'plantwatt.db') },
    broker: { ...base.broker, port: 0 },
    api: { ...base.api, port: 0 },
  }
  let up: UpResult
  try {
    up = await startAll(cfg, logger)
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  let stopped = false
  return {
    up,
    url: up.apiUrl.replace(/\/$/, ''),
    async stop() {
      if (stopped) return
      stopped = true
      await closeAll(up.closables, logger)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Folder for screenshots and other test output (gitignored); created when missing. */
export function artifactsDir(): string {
  const dir = join(import.meta.dirname, '..', 'test-artifacts')
  mkdirSync(dir, { recursive: true })
  return dir
}

/** What loading the live page cost, measured in the page. */
export interface LivePageLoad {
  /** From navigation start until every device row shows an active power value, ms. */
  firstValuesMs: number
  /** Bytes of the page and its static resources (HTML, scripts, styles, images), bodies as transferred; API calls and failed requests (a missing favicon) excluded. */
  pageBytes: number
}

/**
 * Opens `/` of a running API in `page` and waits until each device row of the live table shows a
 * number in the active power column (4th column of api/web/index.html's table).
 */
export async function loadLivePage(page: Page, url: string, timeoutMs = 15_000): Promise<LivePageLoad> {
  await page.goto(`${url}/`, { waitUntil: 'commit' })
  // Browser-side code as strings: the project compiles without the DOM library.
  const handle = await page.waitForFunction(
    `(() => {
      const rows = [...document.querySelectorAll('#rows tr')]
      const shown = rows.length > 0 && rows.every((r) => /^-?\\d/.test(r.querySelector('td:nth-child(4)')?.textContent ?? ''))
      return shown ? performance.now() : false
    })()`,
    undefined,
    { polling: 'raf', timeout: timeoutMs },
  )
  const firstValuesMs = Number(await handle.jsonValue())
  const pageBytes = Number(
    await page.evaluate(`(() => {
      const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
      return entries.filter((e) => e.initiatorType !== 'fetch' && e.initiatorType !== 'xmlhttprequest' && !(e.responseStatus >= 400)).reduce((sum, e) => sum + e.encodedBodySize, 0)
    })()`),
  )
  return { firstValuesMs, pageBytes }
}
