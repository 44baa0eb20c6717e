import type * as cog from '@grafana/grafana-foundation-sdk/cog'
import type * as common from '@grafana/grafana-foundation-sdk/common'
import { CustomVariableBuilder, QueryVariableBuilder, VariableRefresh, VariableSort, type VariableModel } from '@grafana/grafana-foundation-sdk/dashboard'

/** The provisioned data source (provisioning.ts gives it this uid). */
export const INFLUX_DATASOURCE: common.DataSourceRef = { type: 'influxdb', uid: 'plantwatt-influxdb' }

/** Measurement of telemetry (storage/README.md). */
export const TELEMETRY = 'telemetry'
/** Measurement the alert engine writes its events to (see alerts.ts for the fields). */
export const ALERT_EVENT = 'alert_event'

/** How Grafana should shape the answer: one frame per series, or one table. */
export type ResultFormat = 'time_series' | 'table'

/** The InfluxDB data source's query model in InfluxQL ("raw") mode, as Grafana stores it in panels. */
export interface InfluxQLQuery {
  refId: string
  datasource: common.DataSourceRef
  query: string
  rawQuery: true
  resultFormat: ResultFormat
  /** Series name in the legend; `$tag_device` etc. are replaced by Grafana. */
  alias?: string
}

/**
 * The SDK (0.0.21) has no InfluxDB query builder: this is one, producing the model Grafana's
 * InfluxDB data source reads (`rawQuery: true` → `query` is sent as written after variable
 * interpolation).
 */
export class InfluxQLQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: InfluxQLQuery

  constructor(query: string, refId = 'A') {
    this.internal = { refId, datasource: INFLUX_DATASOURCE, query, rawQuery: true, resultFormat: 'time_series' }
  }

  table(): this {
    this.internal.resultFormat = 'table'
    return this
  }

  alias(alias: string): this {
    this.internal.alias = alias
    return this
  }

  build(): cog.Dataquery {
    const q: InfluxQLQuery & cog.Dataquery = { ...this.internal, _implementsDataqueryVariant() {} }
    return q
  }
}

/** Shorthand for a raw InfluxQL target. */
export function influxql(query: string, refId = 'A'): InfluxQLQueryBuilder {
  return new InfluxQLQueryBuilder(query, refId)
}

/** Scope levels a dashboard filters on, outermost first. */
export type ScopeLevel = 'enterprise' | 'site' | 'line'

/** `"enterprise" =~ /^$enterprise$/ AND …`: Grafana writes a multi-value or All selection as `(a|b)` or `.*`. */
export function scopeFilter(levels: readonly ScopeLevel[]): string {
  return levels.map((l) => `"${l}" =~ /^$${l}$/`).join(' AND ')
}

/** Main meters only: a line's main meter already includes its sub-meters, so roll-ups never add both. */
export const MAIN_METER = '"device" =~ /^$mainmeter$/'

/**
 * Energy in kWh per window from the import counters: per device, the increase per minute
 * (`non_negative_difference` of the minute's last reading, so a counter reset or replacement loses one
 * minute instead of producing a huge negative or positive step as `spread()` or `last() - first()`
 * would), summed per outer window. The first minute of the range has no predecessor and is not
 * counted: at most 1 min of energy per range. Without `every`, one total per group for the range.
 */
export function energyQuery(opts: { where: string; every?: string; groupBy: readonly string[]; timezone: string; offset?: string; alias?: string }): string {
  const time = opts.every ? [`time(${opts.every}${opts.offset ? `, ${opts.offset}` : ''})`] : []
  const groups = [...time, ...opts.groupBy.map((g) => `"${g}"`)]
  const outer = (groups.length ? ` GROUP BY ${groups.join(', ')}` : '') + (opts.every ? ` fill(none) tz('${opts.timezone}')` : '')
  return (
    `SELECT sum("kwh") AS "${opts.alias ?? 'energy_kwh'}" FROM (` +
    `SELECT non_negative_difference(last("energy_import_kwh")) AS "kwh" FROM "${TELEMETRY}" ` +
    `WHERE ${opts.where} AND $timeFilter GROUP BY time(1m), "enterprise", "site", "line", "device" fill(none)` +
    `) WHERE $timeFilter${outer}`
  )
}

/** Increase of a production counter (`output_t` or `output_count`) per window, like energyQuery. */
export function outputSubquery(field: 'output_t' | 'output_count', where: string, as: string): string {
  return (
    `SELECT non_negative_difference(last("${field}")) AS "${as}" FROM "${TELEMETRY}" ` +
    `WHERE ${where} AND $timeFilter GROUP BY time(1m), "enterprise", "site", "line", "device" fill(none)`
  )
}

/** Energy increase per minute of the main meters, for joining with output in an outer query. */
export function mainEnergySubquery(where: string, as: string): string {
  return (
    `SELECT non_negative_difference(last("energy_import_kwh")) AS "${as}" FROM "${TELEMETRY}" ` +
    `WHERE ${where} AND ${MAIN_METER} AND $timeFilter GROUP BY time(1m), "enterprise", "site", "line", "device" fill(none)`
  )
}

function tagValues(key: ScopeLevel, parents: readonly ScopeLevel[]): string {
  const where = parents.length ? ` WHERE ${scopeFilter(parents)}` : ''
  return `SHOW TAG VALUES FROM "${TELEMETRY}" WITH KEY = "${key}"${where}`
}

const LABELS: Record<ScopeLevel, string> = { enterprise: '企业 Enterprise', site: '厂区 Site', line: '产线 Line' }

/**
 * Template variables for the scope levels, each depending on the ones before it. `multi` lets the
 * user pick several (and All, sent as `.*` rather than a long alternation).
 */
export function scopeVariables(levels: readonly ScopeLevel[], opts: { multi: boolean }): cog.Builder<VariableModel>[] {
  return levels.map((level, i) => {
    const query = tagValues(level, levels.slice(0, i))
    const v = new QueryVariableBuilder(level)
      .label(LABELS[level])
      .datasource(INFLUX_DATASOURCE)
      .query(query)
      .definition(query)
      .refresh(VariableRefresh.OnDashboardLoad)
      .sort(VariableSort.AlphabeticalAsc)
    if (opts.multi) v.multi(true).includeAll(true).allValue('.*')
    return v
  })
}

/** Device id of the lines' main meters (a regex): telemetry carries no role tag, the plant model does. */
export function mainMeterVariable(): cog.Builder<VariableModel> {
  return new CustomVariableBuilder('mainmeter')
    .label('总表 Main meter id')
    .description("Device id (regex) of each line's main meter, from the plant model (mainMeter). Totals read only these, so sub-meters are never added twice.")
    .values('main')
    .current({ text: 'main', value: 'main' })
    .allowCustomValue(true)
}

/** All the InfluxQL text in a built dashboard: panel targets and query variables. */
export interface DashboardQueries {
  panels: { title: string; refId: string; query: string; resultFormat: ResultFormat; timeFrom?: string }[]
  variables: { name: string; query: string }[]
}
