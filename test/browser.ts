import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { silentLogger } from '../core/logger.ts'
import { loadPlantWattConfig, type ResolvedConfig } from '../cli/config.ts'
import { closeAll, startAll, type Closable, type UpResult } from '../cli/wiring.ts'
import { hashPassword } from '../broker/password.ts'
import { startApi, resolveApiConfig } from '../api/index.ts'
import { loadScenario } from '../simulators/index.ts'
import { backfillScenario } from '../simulators/scenario/backfill.ts'
import { createStore } from '../storage/index.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
import type { EventLog } from '../storage/events.ts'
import { alertId, type Alert } from '../alerts/engine.ts'
import { transitionToEvent } from '../alerts/events.ts'
import type { RuleKind, Severity } from '../alerts/rules.ts'
import { describeAlert } from '../alerts/text.ts'
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
      execFileSync(
        'sh',
        [
          '-c',
          `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${CJK_FONT_PACKAGE} || ((apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${CJK_FONT_PACKAGE})`,
        ],
        {
          stdio: 'inherit',
          timeout: 600_000,
        },
      )
    } catch {
      // fall through to the message below
    }
    if (hasCjkFont()) return
  }
  throw new Error(
    `browser tests need a Chinese font from the Debian package '${CJK_FONT_PACKAGE}': install it (apt-get install ${CJK_FONT_PACKAGE}) and run the tests again`,
  )
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
  // Functions, not strings: a string predicate is eval'd in the page, which the UI's CSP
  // (script-src 'self') refuses. The project compiles without the DOM library: the page's globals
  // are typed here as far as used.
  const handle = await page.waitForFunction(
    () => {
      const doc = (
        globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ querySelector(s: string): { textContent: string | null } | null }> } }
      ).document
      const rows = [...doc.querySelectorAll('#rows tr')]
      const shown = rows.length > 0 && rows.every((r) => /^-?\d/.test(r.querySelector('td:nth-child(4)')?.textContent ?? ''))
      return shown ? performance.now() : false
    },
    undefined,
    { polling: 'raf', timeout: timeoutMs },
  )
  const firstValuesMs = Number(await handle.jsonValue())
  const pageBytes = Number(
    await page.evaluate(() => {
      type Entry = { initiatorType?: string; responseStatus?: number; encodedBodySize?: number }
      const perf = performance as unknown as { getEntriesByType(t: string): Entry[] }
      const entries = [...perf.getEntriesByType('navigation'), ...perf.getEntriesByType('resource')]
      return entries
        .filter((e) => e.initiatorType !== 'fetch' && e.initiatorType !== 'xmlhttprequest' && !((e.responseStatus ?? 0) >= 400))
        .reduce((sum, e) => sum + (e.encodedBodySize ?? 0), 0)
    }),
  )
  return { firstValuesMs, pageBytes }
}

/** A person of the scenario stack: the API user and the password the login form is given. */
export interface StackUser {
  username: string
  password: string
  role: 'operator' | 'engineer' | 'commission' | 'admin'
  enterprise?: string
}

/** Users of the scenario stack: the commission officer, an engineer and an operator of Edong Cement, an engineer of Hanjiang Auto Parts. */
export const SCENARIO_USERS = {
  commission: { username: 'commission', password: 'commission-pass', role: 'commission' },
  engineer: { username: 'eng-edong', password: 'engineer-edong-pass', role: 'engineer', enterprise: 'edong-cement' },
  operator: { username: 'ops-edong', password: 'operator-edong-pass', role: 'operator', enterprise: 'edong-cement' },
  otherEngineer: { username: 'eng-hanjiang', password: 'engineer-hanjiang-pass', role: 'engineer', enterprise: 'hanjiang-autoparts' },
} as const satisfies Record<string, StackUser>

/** The hubei scenario running in this process, with history in its store and auth on. */
export interface ScenarioStack {
  up: UpResult
  /** Base URL of the API (auth on) serving the web UI, without a trailing slash. */
  url: string
  /** The event log that API reads alerts and baselines from (the embedded store's table). */
  events: EventLog
  /** First and last backfilled sample, epoch ms. */
  history: { start: number; stop: number }
  /** A login token of a user (POST /api/v1/auth/login). */
  login(user: StackUser): Promise<string>
  stop(): Promise<void>
}

export interface ScenarioStackOptions {
  /** Days of history written before start (simulators/scenario/backfill.ts). Default 1. */
  historyDays?: number
  /** Sample period of the history, ms. Default 300 000 (5 min): enough for energy, cost and SEC by day. */
  historyStepMs?: number
  /** Also serve the scenario's machines over OPC UA and poll them (machine_state). Slower start. Default false. */
  machines?: boolean
}

/** Cheap scrypt (N=1024) for test users: the format and code path of production, in milliseconds. */
const CHEAP_SCRYPT = { N: 1024, r: 8, p: 1 }

/**
 * Starts the hubei scenario with `startAll` (broker, ingest, Modbus simulators, edge agent, embedded
 * store in a temporary folder) after writing `historyDays` of simulated history into the store, and
 * serves the web UI from an API with auth on (SCENARIO_USERS) and the commission period `last-day`.
 *
 * That API is built on the stack's own store and on the embedded event log in the same SQLite file:
 * `startAll` gives its API an in-memory event log nobody else can reach, and the UI tests need to
 * append alert events where the API reads them (api/routes/alerts.ts).
 */
export async function startScenarioStack(options: ScenarioStackOptions = {}): Promise<ScenarioStack> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-ui-scenario-'))
  const logger = silentLogger()
  const dbPath = join(dir, 'plantwatt.db')
  const scenario = loadScenario('hubei')
  const stepMs = options.historyStepMs ?? 300_000
  const historyStop = Math.floor(Date.now() / stepMs) * stepMs
  const history = { start: historyStop - (options.historyDays ?? 1) * 86_400_000, stop: historyStop }
  const closables: Closable[] = []
  try {
    const seed = await createStore({ backend: 'embedded', path: dbPath })
    try {
      await backfillScenario(scenario, seed, { start: history.start, stop: history.stop, stepMs, fields: 'core' })
    } finally {
      await seed.close()
    }
    const base = loadPlantWattConfig(undefined)
    const cfg: ResolvedConfig = {
      ...base,
      storage: { backend: 'embedded', path: dbPath },
      broker: { ...base.broker, port: 0 },
      api: { ...base.api, port: 0 },
    }
    const up = await startAll(cfg, logger, { scenario, ...(options.machines ? { opcuaDir: join(dir, 'opcua') } : {}) })
    closables.push(...up.closables)
    const events = createEmbeddedEventLog({ path: dbPath })
    closables.push({ name: 'events', close: () => events.close() })
    const users = await Promise.all(
      Object.values(SCENARIO_USERS).map(async (u: StackUser) => ({
        username: u.username,
        passwordHash: await hashPassword(u.password, CHEAP_SCRYPT),
        role: u.role,
        ...(u.enterprise ? { enterprise: u.enterprise } : {}),
      })),
    )
    const api = await startApi({
      store: up.store,
      plant: up.plant,
      events,
      commission: { period: 'last-day' },
      config: resolveApiConfig({
        port: 0,
        auth: { users, apiKeys: [], tokenTtlS: 3600, jwtSecret: 'browser-tests-secret-0123456789abcdef' },
        rateLimit: { max: 0, loginMax: 0, timeWindowMs: 60_000 },
      }),
    })
    closables.push({ name: 'ui-api', close: () => api.close() })
    let stopped = false
    return {
      up,
      url: api.url,
      events,
      history,
      async login(user) {
        const res = await fetch(`${api.url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: user.username, password: user.password }),
        })
        if (!res.ok) throw new Error(`login of ${user.username}: HTTP ${res.status} ${await res.text()}`)
        return ((await res.json()) as { token: string }).token
      },
      async stop() {
        if (stopped) return
        stopped = true
        await closeAll(closables, logger)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    await closeAll(closables, logger)
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

/** What the test alert is about; the id is made as the alert engine makes it (alerts/engine.ts alertId). */
export interface TestAlertInput {
  address: { enterprise: string; site: string; line: string; device: string }
  rule: string
  /** Default threshold (the limit is then the upper edge of the normal range, expectedHigh). */
  ruleKind?: RuleKind
  severity: Severity
  quantity: string
  value: number
  threshold: number
  openedAt: number
  /** Also clear it this many ms after opening (an alert of the history). */
  clearedAfterMs?: number
}

/**
 * Appends the `alert_event` of an alert opening (and clearing) to an event log, as the alert service
 * does (alerts/events.ts transitionToEvent): for tests where the service is not running.
 */
export async function appendTestAlert(events: EventLog, a: TestAlertInput): Promise<string> {
  const ruleKind = a.ruleKind ?? 'threshold'
  const alert: Alert = {
    id: alertId(a.rule, a.address, a.openedAt),
    rule: a.rule,
    ruleKind,
    severity: a.severity,
    address: a.address,
    quantity: a.quantity,
    state: 'firing',
    openedAt: a.openedAt,
    value: a.value,
    threshold: a.threshold,
    ...(ruleKind === 'threshold' ? { expectedHigh: a.threshold } : {}),
  }
  const stored = [
    transitionToEvent({ event: 'opened', ts: a.openedAt, alert, user: '', comment: '', text: describeAlert(alert, 'opened', a.address.device, '', '') }),
  ]
  if (a.clearedAfterMs !== undefined) {
    const ts = a.openedAt + a.clearedAfterMs
    const cleared: Alert = { ...alert, state: 'resolved', resolvedAt: ts, resolvedBy: '' }
    stored.push(
      transitionToEvent({ event: 'cleared', ts, alert: cleared, user: '', comment: '', text: describeAlert(cleared, 'cleared', a.address.device, '', '') }),
    )
  }
  await events.append(stored)
  return alert.id
}
