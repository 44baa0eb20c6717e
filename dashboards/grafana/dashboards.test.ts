import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { createInfluxStore } from '../../storage/influxdb/index.ts'
import type { TelemetryPoint, TelemetryStore } from '../../storage/store.ts'
import { backfillScenario, buildScenarioModel, createMachineModel, FaultBook, loadScenario } from '../../simulators/index.ts'
import { scenarioDeviceKeys } from '../../simulators/scenario/model.ts'
import { startInfluxd, type RunningInfluxd } from '../../test/influxd.ts'
import { buildDashboards, dashboardPanels } from './dashboards.ts'
import { writeGrafanaFolder } from './build.ts'
import type { InfluxQLQuery } from './influxql.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
// China has kept UTC+8 without DST since 1991: local midnight is a fixed offset.
const TZ_OFFSET = 8 * HOUR
const startOfLocalDay = (t: number): number => Math.floor((t + TZ_OFFSET) / DAY) * DAY - TZ_OFFSET

// "Now" of the test: the end of the data. Shortly after local midnight "today" would hold only a few
// minutes, so then the test pretends it is the end of the previous day.
const realNow = Math.floor(Date.now() / MINUTE) * MINUTE
const NOW = realNow - startOfLocalDay(realNow) < 30 * MINUTE ? startOfLocalDay(realNow) - MINUTE : realNow
const START = NOW - 2 * DAY

const scenario = loadScenario('hubei')
const built = buildDashboards()

interface Target {
  dashboard: Dashboard
  panel: string
  timeFrom?: string
  query: InfluxQLQuery
}

const targets: Target[] = built.flatMap(({ dashboard }) =>
  dashboardPanels(dashboard).flatMap((p) =>
    ((p.targets ?? []) as unknown as InfluxQLQuery[]).map((query) => ({
      dashboard,
      panel: p.title ?? '',
      ...(p.timeFrom ? { timeFrom: p.timeFrom } : {}),
      query,
    })),
  ),
)

/** Grafana's escaping of a variable value inside an InfluxQL regex. */
const regexEscape = (v: string): string => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&')

interface Scope {
  name: string
  values: Record<string, string>
}

// One line picked (what Line energy shows), and everything selected ("All" is sent as .*).
const SCOPES: Scope[] = [
  { name: 'one line', values: { enterprise: regexEscape('hanjiang-autoparts'), site: regexEscape('xiangyang'), line: regexEscape('brake-disc') } },
  { name: 'all', values: { enterprise: '.*', site: '.*', line: '.*' } },
]
function rangeOf(t: Target): [number, number] {
  const rel = t.timeFrom ?? t.dashboard.time?.from.replace(/^now-/, '') ?? '6h'
  if (rel === 'now/d') return [startOfLocalDay(NOW), NOW]
  const m = /^(\d+)([mhd])$/.exec(rel)
  if (!m) throw new Error(`unhandled time range ${rel}`)
  const unit = { m: MINUTE, h: HOUR, d: DAY }[m[2] as 'm' | 'h' | 'd']
  return [NOW - Number(m[1]) * unit, NOW]
}

/**
 * Fills variables and macros as Grafana does before sending the query to InfluxDB: only variables
 * the dashboard defines — query variables from the scope, the others at their default — so a query
 * naming a variable its dashboard lacks fails here as it would in Grafana.
 */
function interpolate(query: string, dashboard: Dashboard, scope: Scope, range: [number, number], overrides: Record<string, string> = {}): string {
  const interval = range[1] - range[0] <= DAY ? '1m' : '15m'
  let q = query.replaceAll('$timeFilter', `time >= ${range[0]}ms and time <= ${range[1]}ms`).replaceAll('$__interval', interval).replaceAll('now()', `${NOW}ms`)
  // Longest names first, so $site never eats the start of a longer name.
  const vars = [...(dashboard.templating.list ?? [])].sort((a, b) => b.name.length - a.name.length)
  for (const v of vars) {
    const value = overrides[v.name] ?? (v.type === 'query' ? scope.values[v.name] : String(v.current?.value ?? ''))
    if (value === undefined || value === '') throw new Error(`no value for variable ${v.name}`)
    q = q.replaceAll(`$${v.name}`, value)
  }
  const left = /\$[A-Za-z_]\w*/.exec(q)
  if (left) throw new Error(`variable ${left[0]} is not defined by "${dashboard.title}": ${q}`)
  return q
}

interface InfluxSeries {
  name: string
  tags?: Record<string, string>
  columns: string[]
  values: unknown[][]
}

let influx: RunningInfluxd
let store: TelemetryStore

async function query(q: string): Promise<InfluxSeries[]> {
  const res = await fetch(`${influx.url}/query`, {
    method: 'POST',
    body: new URLSearchParams({ db: influx.database, q, epoch: 'ms' }),
  })
  const body = (await res.json()) as { results?: { series?: InfluxSeries[]; error?: string }[]; error?: string }
  const r = body.results?.[0]
  if (!res.ok || body.error || r?.error) throw new Error(`${body.error ?? r?.error ?? res.status}\nquery: ${q}`)
  return r?.series ?? []
}

function numbers(series: InfluxSeries[]): number[] {
  return series.flatMap((s) => s.values.flatMap((row) => row.slice(1).filter((v): v is number => typeof v === 'number')))
}

/** Machine states as the OPC UA machines of the scenario would have reported them (backfill writes meters and counters only). */
async function writeMachineStates(): Promise<number> {
  const faults = new FaultBook({ timezone: scenario.timezone, seed: scenario.seed, devices: scenarioDeviceKeys(scenario) })
  const points: TelemetryPoint[] = []
  for (const m of buildScenarioModel(scenario, faults).machines) {
    const model = createMachineModel({ kind: m.kind, ratedKw: m.ratedKw, seed: m.seed, product: m.product, scheduled: m.scheduled })
    let seq = 0
    for (let t = START; t < NOW; t += MINUTE) {
      points.push({ measurement: 'telemetry', tags: { ...m.address }, fields: { machine_state: model.update(t).state, seq: ++seq }, ts: t })
    }
  }
  for (let i = 0; i < points.length; i += 5000) await store.write(points.slice(i, i + 5000))
  return points.length
}

/** A few alert events in the schema documented in dashboards.ts (alerts). */
async function writeAlertEvents(): Promise<void> {
  const tags = 'enterprise=hanjiang-autoparts,site=xiangyang,line=brake-disc,device=main'
  const lines = [
    `alert_event,${tags},rule=power-high,severity=warning,event=opened alert_id="a1",value=410.5,threshold=380,message="power above limit",user="" ${NOW - 5 * HOUR}`,
    `alert_event,${tags},rule=power-high,severity=warning,event=acknowledged alert_id="a1",value=405.2,threshold=380,message="ack",user="li.wei" ${NOW - 4 * HOUR}`,
    `alert_event,${tags},rule=power-high,severity=warning,event=cleared alert_id="a1",value=350.1,threshold=380,message="back to normal",user="" ${NOW - 3 * HOUR}`,
    `alert_event,${tags},rule=standby-night,severity=critical,event=opened alert_id="a2",value=96.0,threshold=40,message="standby load at night",user="" ${NOW - 20 * HOUR}`,
  ]
  const res = await fetch(`${influx.url}/write?db=${influx.database}&precision=ms`, { method: 'POST', body: lines.join('\n') })
  if (res.status !== 204) throw new Error(`writing alert events: ${res.status} ${await res.text()}`)
}

const ENTERPRISES = scenario.enterprises.map((e) => e.id).sort()
let machinePoints = 0

beforeAll(async () => {
  influx = await startInfluxd()
  store = await createInfluxStore({ url: influx.url, database: influx.database, createDatabase: true, timeoutMs: 30_000 })
  await backfillScenario(scenario, store, { start: START, stop: NOW, stepMs: MINUTE, fields: 'core' })
  machinePoints = await writeMachineStates()
  await writeAlertEvents()
})

afterAll(async () => {
  await store?.close()
  await influx?.stop()
})

describe('Grafana dashboards as code', () => {
  it('builds the five dashboards with unique uids, InfluxQL targets on the provisioned data source and variables', () => {
    expect(built.map((b) => b.dashboard.title)).toEqual([
      'PlantWatt · 产线能耗 Line energy',
      'PlantWatt · 能耗与成本 Energy & cost',
      'PlantWatt · 能效对标 Efficiency vs benchmark',
      'PlantWatt · 告警 Alerts',
      'PlantWatt · 全省概览 Province overview',
    ])
    expect(new Set(built.map((b) => b.dashboard.uid)).size).toBe(5)
    for (const { dashboard } of built) {
      const names = (dashboard.templating.list ?? []).map((v) => v.name)
      expect(names).toContain('enterprise')
      for (const p of dashboardPanels(dashboard)) {
        expect(p.gridPos, `${dashboard.title} › ${p.title}`).toBeDefined()
        for (const t of (p.targets ?? []) as unknown as InfluxQLQuery[]) {
          expect(t).toMatchObject({ rawQuery: true, datasource: { type: 'influxdb', uid: 'plantwatt-influxdb' } })
          expect(t.query).toMatch(/^SELECT /)
          // Every query is bounded in time, so none reads the whole database.
          expect(t.query).toMatch(/\$timeFilter|now\(\) - /)
        }
      }
    }
    expect(targets.length).toBeGreaterThanOrEqual(20)
    // JSON as written: what Grafana reads.
    const round = JSON.parse(JSON.stringify(built[0]!.dashboard)) as Dashboard
    expect(round.schemaVersion).toBeGreaterThan(30)
    expect(JSON.stringify(round)).not.toContain('_implementsDataqueryVariant')
  })

  it('writes dashboard JSON and a provisioning folder Grafana loads as is', () => {
    const out = mkdtempSync(join(tmpdir(), 'pw-grafana-'))
    try {
      const written = writeGrafanaFolder(out)
      expect(readdirSync(join(out, 'dashboards')).sort()).toEqual([...built.map((b) => b.file), 'plantwatt-operations.json'].sort())
      for (const f of written.dashboards) expect((JSON.parse(readFileSync(f, 'utf8')) as Dashboard).uid).toMatch(/^plantwatt-/)
      const ds = parse(readFileSync(join(out, 'provisioning', 'datasources', 'plantwatt.yaml'), 'utf8')) as { datasources: Record<string, unknown>[] }
      expect(ds.datasources[0]).toMatchObject({
        uid: 'plantwatt-influxdb',
        type: 'influxdb',
        url: '${PLANTWATT_INFLUX_URL}',
        jsonData: { dbName: '${PLANTWATT_INFLUX_DATABASE}' },
      })
      expect(ds.datasources[1]).toMatchObject({ uid: 'plantwatt-prometheus', type: 'prometheus', url: '${PLANTWATT_PROMETHEUS_URL}' })
      const dp = parse(readFileSync(join(out, 'provisioning', 'dashboards', 'plantwatt.yaml'), 'utf8')) as {
        providers: { type: string; options: { path: string } }[]
      }
      expect(dp.providers[0]).toMatchObject({ type: 'file', options: { path: join(out, 'dashboards') } })
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })

  it("the scope variables list the scenario's enterprises, sites and lines, each depending on the one before", async () => {
    const vars = (built[0]!.dashboard.templating.list ?? []).filter((v) => v.type === 'query')
    const valuesOf = async (name: string, scope: Scope): Promise<string[]> => {
      const v = vars.find((x) => x.name === name)!
      const series = await query(interpolate(String(v.query), built[0]!.dashboard, scope, [START, NOW]))
      return series.flatMap((s) => s.values.map((row) => String(row[1]))).sort()
    }
    const all = SCOPES[1]!
    expect(await valuesOf('enterprise', all)).toEqual(ENTERPRISES)
    const one: Scope = { name: 'steel', values: { enterprise: regexEscape('jiangcheng-steel'), site: regexEscape('qingshan'), line: '.*' } }
    expect(await valuesOf('site', one)).toEqual(['qingshan'])
    expect(await valuesOf('line', one)).toEqual(['bar-mill-1', 'eaf-1'])
    expect(await valuesOf('line', all)).toHaveLength(7)
  })

  describe.each(SCOPES)('every panel query returns series with numbers from a real influxd ($name)', (scope) => {
    it.each(targets.map((t) => [`${t.dashboard.title} › ${t.panel} [${t.query.refId}]`, t] as const))('%s', async (_name, t) => {
      const q = interpolate(t.query.query, t.dashboard, scope, rangeOf(t))
      const series = await query(q)
      expect(series.length, q).toBeGreaterThan(0)
      const values = numbers(series)
      expect(values.length, q).toBeGreaterThan(0)
      for (const v of values) expect(Number.isFinite(v), q).toBe(true)
      if (/energy_kwh|kwh_per_unit/.test(t.query.query)) for (const v of values) expect(v, q).toBeGreaterThanOrEqual(0)
    })
  })

  const find = (dashboardUid: string, title: string): Target => {
    const t = targets.find((x) => x.dashboard.uid === dashboardUid && x.panel.includes(title))
    if (!t) throw new Error(`no panel "${title}" in ${dashboardUid}`)
    return t
  }
  const all = SCOPES[1]!

  it("energy per day of a main meter adds up to its counter's increase over the range", async () => {
    const t = find('plantwatt-energy-cost', 'Energy per day per line')
    const clinker = { ...all, values: { ...all.values, line: 'clinker-1' } }
    const perDay = await query(interpolate(t.query.query, t.dashboard, clinker, [START, NOW]))
    expect(perDay).toHaveLength(1)
    const total = numbers(perDay).reduce((a, b) => a + b, 0)
    const [counter] = numbers(
      await query(
        `SELECT last("energy_import_kwh") - first("energy_import_kwh") FROM "telemetry" WHERE "line" = 'clinker-1' AND "device" = 'main' AND time >= ${START}ms AND time <= ${NOW}ms`,
      ),
    )
    // Only the first minute of the range is not counted.
    expect(total).toBeLessThanOrEqual(counter! + 1e-6)
    expect(total).toBeGreaterThan(counter! * (1 - 2 / (2 * 1440)))
  })

  it('shifts are cut at the chosen local hour (first shift 06:00 → 06/14/22 h)', async () => {
    const t = find('plantwatt-energy-cost', 'Energy per shift')
    const series = await query(interpolate(t.query.query, t.dashboard, all, [START, NOW], { shiftoffset: '6h' }))
    const hours = new Set(series.flatMap((s) => s.values.map((row) => new Date((row[0] as number) + TZ_OFFSET).getUTCHours())))
    expect([...hours].sort((a, b) => a - b)).toEqual([6, 14, 22])
  })

  it('kWh per unit of the continuous clinker line is near its scenario target', async () => {
    const t = find('plantwatt-efficiency', 'Totals in the range per line')
    const rows = await query(interpolate(t.query.query, t.dashboard, all, [START, NOW]))
    const clinker = rows.find((s) => s.tags?.line === 'clinker-1' && s.tags.enterprise === 'edong-cement')
    const col = clinker!.columns.indexOf('kwh_per_unit')
    const target = buildScenarioModel(
      scenario,
      new FaultBook({ timezone: scenario.timezone, seed: scenario.seed, devices: scenarioDeviceKeys(scenario) }),
    ).production.find((p) => p.key === 'edong-cement/huangshi/clinker-1/kiln-dcs')!.secKwhPerUnit
    const actual = clinker!.values[0]![col] as number
    expect(Math.abs(actual / target - 1)).toBeLessThan(0.15)
  })

  it('networking rate: every device of every enterprise reports, and the count matches the scenario', async () => {
    const t = find('plantwatt-province', 'Networking rate proxy')
    const rows = await query(interpolate(t.query.query, t.dashboard, all, rangeOf(t)))
    expect(rows.map((r) => r.tags?.enterprise).sort()).toEqual(ENTERPRISES)
    const model = buildScenarioModel(scenario, new FaultBook({ timezone: scenario.timezone, seed: scenario.seed, devices: scenarioDeviceKeys(scenario) }))
    expect(machinePoints).toBeGreaterThan(0)
    for (const r of rows) {
      const ent = r.tags!.enterprise!
      const expected = [...model.meters, ...model.production, ...model.machines].filter((d) => d.address.enterprise === ent).length
      const row = r.values[0]!
      expect(row[r.columns.indexOf('seen')]).toBe(expected)
      expect(row[r.columns.indexOf('reporting')]).toBe(expected)
      expect(row[r.columns.indexOf('rate_pct')]).toBe(100)
    }
  })

  it("machine states are the 0–3 codes of the line's machines", async () => {
    const t = find('plantwatt-line-energy', 'Machine states')
    const series = await query(interpolate(t.query.query, t.dashboard, SCOPES[0]!, rangeOf(t)))
    expect(series.map((s) => s.tags?.device).sort()).toEqual(['cnc-01', 'cnc-02', 'cnc-03'])
    for (const v of numbers(series)) expect([0, 1, 2, 3]).toContain(v)
  })
})
