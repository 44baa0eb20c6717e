import type * as cog from '@grafana/grafana-foundation-sdk/cog'
import {
  BarGaugeDisplayMode,
  BigValueGraphMode,
  GraphDrawStyle,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common'
import {
  CustomVariableBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  MappingType,
  type Dashboard,
  type Panel,
  type VariableModel,
} from '@grafana/grafana-foundation-sdk/dashboard'
import { PanelBuilder as BarGaugePanel } from '@grafana/grafana-foundation-sdk/bargauge'
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat'
import { PanelBuilder as StateTimelinePanel } from '@grafana/grafana-foundation-sdk/statetimeline'
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table'
import { PanelBuilder as TextPanel, TextMode } from '@grafana/grafana-foundation-sdk/text'
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries'
import { DEFAULT_TIMEZONE } from '../../core/windows.ts'
import {
  ALERT_EVENT,
  energyQuery,
  influxql,
  MAIN_METER,
  mainEnergySubquery,
  mainMeterVariable,
  outputSubquery,
  scopeFilter,
  scopeVariables,
  TELEMETRY,
  type ScopeLevel,
} from './influxql.ts'

/** Options of the dashboards. */
export interface DashboardOptions {
  /**
   * IANA time zone of the plants: days and shifts are cut at its midnight (InfluxQL `tz()`), and the
   * dashboards display in it. Default Asia/Shanghai.
   */
  timezone?: string
}

/** A built dashboard and the file it goes to. */
export interface BuiltDashboard {
  /** File name in the dashboards folder, `<uid>.json`. */
  file: string
  dashboard: Dashboard
}

const SCOPE: readonly ScopeLevel[] = ['enterprise', 'site', 'line']
const TAGS = ['plantwatt']
const SCOPE_WHERE = scopeFilter(SCOPE)
const LINE_GROUP = ['enterprise', 'site', 'line'] as const

function base(uid: string, title: string, description: string, timezone: string, from: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(TAGS)
    .timezone(timezone)
    .time({ from, to: 'now' })
    .refresh('1m')
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly()
}

function bars(title: string, unit: string): TimeseriesPanel {
  return new TimeseriesPanel().title(title).unit(unit).drawStyle(GraphDrawStyle.Bars).fillOpacity(80).lineWidth(1)
}

function lastValue(): ReduceDataOptionsBuilder {
  return new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false)
}

function note(title: string, markdown: string): TextPanel {
  return new TextPanel().title(title).mode(TextMode.Markdown).content(markdown).height(4).span(24)
}

const NOT_BILLING = 'Energy is the increase of the import counters (kWh), per minute with resets dropped.'

/** Line energy: what a plant engineer keeps open on one line. */
function lineEnergy(tz: string): DashboardBuilder {
  const variables: cog.Builder<VariableModel>[] = [...scopeVariables(SCOPE, { multi: false }), mainMeterVariable()]
  return base('plantwatt-line-energy', 'PlantWatt · 产线能耗 Line energy', "Power and energy of one line, per device, and its machines' states.", tz, 'now-6h')
    .variables(variables)
    .withPanel(
      new StatPanel()
        .title('产线功率 Line power now (main meter)')
        .description("Last reading of the line's main meter in the last 5 minutes.")
        .unit('kwatt')
        .decimals(1)
        .timeFrom('5m')
        .graphMode(BigValueGraphMode.None)
        .reduceOptions(lastValue())
        .withTarget(influxql(`SELECT last("active_power_kw") AS "kW" FROM "${TELEMETRY}" WHERE ${SCOPE_WHERE} AND ${MAIN_METER} AND $timeFilter`))
        .height(5)
        .span(6),
    )
    .withPanel(
      new StatPanel()
        .title('今日电量 Energy today (main meter)')
        .description(NOT_BILLING)
        .unit('kwatth')
        .decimals(0)
        .timeFrom('now/d')
        .graphMode(BigValueGraphMode.None)
        .reduceOptions(new ReduceDataOptionsBuilder().calcs(['sum']).values(false))
        .withTarget(influxql(energyQuery({ where: `${SCOPE_WHERE} AND ${MAIN_METER}`, every: '1d', groupBy: [], timezone: tz })))
        .height(5)
        .span(6),
    )
    .withPanel(
      new BarGaugePanel()
        .title('设备功率 Power now per device')
        .unit('kwatt')
        .decimals(1)
        .timeFrom('5m')
        .orientation(VizOrientation.Horizontal)
        .displayMode(BarGaugeDisplayMode.Gradient)
        .reduceOptions(lastValue())
        .withTarget(
          influxql(`SELECT last("active_power_kw") AS "kW" FROM "${TELEMETRY}" WHERE ${SCOPE_WHERE} AND $timeFilter GROUP BY "device"`).alias('$tag_device'),
        )
        .height(10)
        .span(12),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('功率 Power per device, last hour')
        .unit('kwatt')
        .timeFrom('1h')
        .withTarget(
          influxql(
            `SELECT mean("active_power_kw") AS "kW" FROM "${TELEMETRY}" WHERE ${SCOPE_WHERE} AND $timeFilter GROUP BY time($__interval), "device" fill(none)`,
          ).alias('$tag_device'),
        )
        .height(10)
        .span(12),
    )
    .withPanel(
      new BarGaugePanel()
        .title('今日电量 Energy today per device')
        .description(`${NOT_BILLING} The main meter includes its sub-meters: do not add them up.`)
        .unit('kwatth')
        .decimals(0)
        .timeFrom('now/d')
        .orientation(VizOrientation.Horizontal)
        .displayMode(BarGaugeDisplayMode.Gradient)
        .reduceOptions(new ReduceDataOptionsBuilder().calcs(['sum']).values(false))
        .withTarget(influxql(energyQuery({ where: SCOPE_WHERE, every: '1d', groupBy: ['device'], timezone: tz })).alias('$tag_device'))
        .height(10)
        .span(12),
    )
    .withPanel(
      new StateTimelinePanel()
        .title('设备状态 Machine states')
        .description('machine_state of the OPC UA machines: 0 stopped, 1 idle, 2 running, 3 fault. Empty for lines without machines.')
        .mappings([
          {
            type: MappingType.ValueToText,
            options: {
              '0': { text: '停机 stopped', color: 'gray', index: 0 },
              '1': { text: '待机 idle', color: 'yellow', index: 1 },
              '2': { text: '运行 running', color: 'green', index: 2 },
              '3': { text: '故障 fault', color: 'red', index: 3 },
            },
          },
        ])
        .withTarget(
          influxql(
            `SELECT last("machine_state") AS "state" FROM "${TELEMETRY}" WHERE ${SCOPE_WHERE} AND $timeFilter GROUP BY time($__interval), "device" fill(none)`,
          ).alias('$tag_device'),
        )
        .height(10)
        .span(12),
    )
}

function shiftOffsetVariable(): cog.Builder<VariableModel> {
  return new CustomVariableBuilder('shiftoffset')
    .label('班次 Shifts start at')
    .description(
      "Energy per shift is cut into three 8-hour shifts starting at these local hours (the value is the window offset, modulo 8 h). Other shift calendars: the analytics API uses the plant model's shifts.",
    )
    .values('06/14/22 : 6h, 07/15/23 : 7h, 08/16/24 : 0h')
    .current({ text: '08/16/24', value: '0h' })
}

/** Energy & cost: energy per day, shift and hour; cost is the API's (see the note panel). */
function energyAndCost(tz: string): DashboardBuilder {
  const main = `${SCOPE_WHERE} AND ${MAIN_METER}`
  return base('plantwatt-energy-cost', 'PlantWatt · 能耗与成本 Energy & cost', "Energy per day, shift and hour from the main meters' counters.", tz, 'now-7d')
    .variables([...scopeVariables(SCOPE, { multi: true }), mainMeterVariable(), shiftOffsetVariable()])
    .withPanel(
      bars('日电量 Energy per day per line', 'kwatth')
        .withTarget(influxql(energyQuery({ where: main, every: '1d', groupBy: LINE_GROUP, timezone: tz })).alias('$tag_enterprise / $tag_line'))
        .height(9)
        .span(12),
    )
    .withPanel(
      bars('班次电量 Energy per shift (8 h) per line', 'kwatth')
        .withTarget(
          influxql(energyQuery({ where: main, every: '8h', offset: '$shiftoffset', groupBy: LINE_GROUP, timezone: tz })).alias('$tag_enterprise / $tag_line'),
        )
        .height(9)
        .span(12),
    )
    .withPanel(
      bars('小时电量 Energy per hour, stacked by line', 'kwatth')
        .stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
        .withTarget(influxql(energyQuery({ where: main, every: '1h', groupBy: LINE_GROUP, timezone: tz })).alias('$tag_enterprise / $tag_line'))
        .height(9)
        .span(12),
    )
    .withPanel(
      new TablePanel()
        .title('设备电量 Energy per device in the range')
        .description(`${NOT_BILLING} Main meters include their sub-meters.`)
        .unit('kwatth')
        .decimals(1)
        .withTarget(influxql(energyQuery({ where: SCOPE_WHERE, groupBy: ['enterprise', 'site', 'line', 'device'], timezone: tz })).table())
        .height(9)
        .span(12),
    )
    .withPanel(
      note(
        '成本与碳排放 Cost and CO₂',
        'Cost needs each kWh priced by its time-of-use period (Hubei 鄂发改价管〔2024〕77号: critical peak, peak, flat, valley — with July–August hours), ' +
          'and CO₂ needs the grid factor of the year and region. InfluxQL cannot map hours to tariff periods, and energy × the flat price would misstate ' +
          'the bill, so these panels come from the PlantWatt analytics API (cost by TOU period, kgce, CO₂), not from this data source.',
      ),
    )
}

/** Efficiency: output next to energy and kWh per unit, per line and day. */
function efficiency(tz: string): DashboardBuilder {
  const energy = mainEnergySubquery(SCOPE_WHERE, 'kwh')
  const tonnes = outputSubquery('output_t', SCOPE_WHERE, 'units')
  const pieces = outputSubquery('output_count', SCOPE_WHERE, 'units')
  const byLine = '"enterprise", "site", "line"'
  return base(
    'plantwatt-efficiency',
    'PlantWatt · 能效对标 Efficiency vs benchmark',
    "Energy per unit of output (kWh/t or kWh/pcs) per line and day, from the main meter and the line's production counter.",
    tz,
    'now-7d',
  )
    .variables([...scopeVariables(SCOPE, { multi: true }), mainMeterVariable()])
    .withPanel(
      bars('日产量 Output per day per line', 'none')
        .description("Tonnes (output_t) or pieces (output_count), whichever the line's production counter reports.")
        .withTarget(
          influxql(
            `SELECT sum("t") AS "t", sum("pcs") AS "pcs" FROM (${outputSubquery('output_t', SCOPE_WHERE, 't')}), (${outputSubquery('output_count', SCOPE_WHERE, 'pcs')}) ` +
              `WHERE $timeFilter GROUP BY time(1d), ${byLine} fill(none) tz('${tz}')`,
          ).alias('$tag_line $col'),
        )
        .height(9)
        .span(12),
    )
    .withPanel(
      bars('日电量 Energy per day per line (main meter)', 'kwatth')
        .withTarget(influxql(energyQuery({ where: `${SCOPE_WHERE} AND ${MAIN_METER}`, every: '1d', groupBy: LINE_GROUP, timezone: tz })).alias('$tag_line'))
        .height(9)
        .span(12),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('单位产品电耗 kWh per unit per day')
        .description("Main-meter energy / output of the day (kWh per t or per piece, by the line's product). Days without output have no value.")
        .unit('none')
        .decimals(2)
        .drawStyle(GraphDrawStyle.Bars)
        .fillOpacity(60)
        .withTarget(
          influxql(
            `SELECT sum("kwh") / sum("units") AS "kwh_per_unit" FROM (${energy}), (${tonnes}), (${pieces}) WHERE $timeFilter GROUP BY time(1d), ${byLine} fill(none) tz('${tz}')`,
          ).alias('$tag_line'),
        )
        .height(9)
        .span(12),
    )
    .withPanel(
      new TablePanel()
        .title('区间汇总 Totals in the range per line')
        .decimals(2)
        .withTarget(
          influxql(
            `SELECT sum("kwh") AS "energy_kwh", sum("units") AS "output", sum("kwh") / sum("units") AS "kwh_per_unit" FROM (${energy}), (${tonnes}), (${pieces}) WHERE $timeFilter GROUP BY ${byLine}`,
          ).table(),
        )
        .height(9)
        .span(12),
    )
    .withPanel(
      note(
        '对标 Benchmark grades',
        "Grades against GB unit-consumption limits and NDRC 标杆/基准 levels need each line's product and indicator (plant model) and kgce conversion; " +
          'they come from the PlantWatt analytics API. Reference, clinker electricity GB 16780-2021: 48 / 57 / 61 kWh/t (levels 1 / 2 / 3).',
      ),
    )
}

/**
 * Alerts, read from the measurement the alert engine writes (`alert_event`), one point per lifecycle event:
 * - tags: `enterprise`, `site`, `line`, `device` (as telemetry), `rule` (rule id), `severity`
 *   (`info` | `warning` | `critical`), `event` (`opened` | `acknowledged` | `cleared`)
 * - fields: `value` (float, the value that triggered or cleared), `threshold` (float, the limit or
 *   expected value), `alert_id` (string, the same for every event of one alert), `message` (string),
 *   `user` (string, who acknowledged; empty otherwise)
 * - time: when the event happened.
 */
function alerts(tz: string): DashboardBuilder {
  return base(
    'plantwatt-alerts',
    'PlantWatt · 告警 Alerts',
    'Alert events written by the alert engine (measurement alert_event). Acknowledging is done in the PlantWatt web UI.',
    tz,
    'now-7d',
  )
    .variables(scopeVariables(SCOPE, { multi: true }))
    .withPanel(
      new StatPanel()
        .title('新告警 Alerts opened in the range')
        .graphMode(BigValueGraphMode.None)
        .reduceOptions(new ReduceDataOptionsBuilder().calcs(['sum']).values(false))
        .withTarget(influxql(`SELECT count("value") AS "opened" FROM "${ALERT_EVENT}" WHERE ${SCOPE_WHERE} AND "event" = 'opened' AND $timeFilter`))
        .height(6)
        .span(6),
    )
    .withPanel(
      bars('告警事件 Alert events by severity', 'none')
        .stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
        .withTarget(
          influxql(
            `SELECT count("value") AS "events" FROM "${ALERT_EVENT}" WHERE ${SCOPE_WHERE} AND $timeFilter GROUP BY time($__interval), "severity" fill(none)`,
          ).alias('$tag_severity'),
        )
        .height(6)
        .span(12),
    )
    .withPanel(
      new BarGaugePanel()
        .title('按规则 Events per rule')
        .orientation(VizOrientation.Horizontal)
        .reduceOptions(new ReduceDataOptionsBuilder().calcs(['sum']).values(false))
        .withTarget(influxql(`SELECT count("value") AS "events" FROM "${ALERT_EVENT}" WHERE ${SCOPE_WHERE} AND $timeFilter GROUP BY "rule"`).alias('$tag_rule'))
        .height(6)
        .span(6),
    )
    .withPanel(
      new TablePanel()
        .title('最近事件 Latest alert events')
        .withTarget(
          influxql(
            `SELECT "enterprise", "line", "device", "rule", "severity", "event", "value", "threshold", "message", "alert_id" FROM "${ALERT_EVENT}" WHERE ${SCOPE_WHERE} AND $timeFilter ORDER BY time DESC LIMIT 200`,
          ).table(),
        )
        .height(12)
        .span(24),
    )
}

function onlineWindowVariable(): cog.Builder<VariableModel> {
  return new CustomVariableBuilder('onlinewindow')
    .label('在线窗口 Online within')
    .description('A device counts as reporting when it sent a sample within this window.')
    .values('1m,5m,15m,1h')
    .current({ text: '5m', value: '5m' })
}

/** Province overview: what the commission compares across enterprises. */
function province(tz: string): DashboardBuilder {
  const where = scopeFilter(['enterprise'])
  const perDevice = '"enterprise", "site", "line", "device"'
  const reporting = `SELECT last("seq") AS "reporting" FROM "${TELEMETRY}" WHERE ${where} AND time > now() - $onlinewindow GROUP BY ${perDevice}`
  const seen = `SELECT last("seq") AS "seen" FROM "${TELEMETRY}" WHERE ${where} AND $timeFilter GROUP BY ${perDevice}`
  return base('plantwatt-province', 'PlantWatt · 全省概览 Province overview', 'Enterprises side by side: devices reporting, energy, power.', tz, 'now-7d')
    .variables([...scopeVariables(['enterprise'], { multi: true }), mainMeterVariable(), onlineWindowVariable()])
    .withPanel(
      new TablePanel()
        .title('联网率 Networking rate proxy per enterprise')
        .description(
          "Devices that sent data within the online window / devices that sent data in the time range, in %. A proxy: the commission's " +
            'networking rate counts key equipment of the plant model, which the analytics API reports.',
        )
        .decimals(1)
        .withTarget(
          influxql(
            `SELECT count("reporting") AS "reporting", count("seen") AS "seen", count("reporting") / count("seen") * 100 AS "rate_pct" FROM (${reporting}), (${seen}) GROUP BY "enterprise"`,
          ).table(),
        )
        .height(8)
        .span(12),
    )
    .withPanel(
      new BarGaugePanel()
        .title('在线设备 Devices reporting now')
        .orientation(VizOrientation.Horizontal)
        .reduceOptions(lastValue())
        .withTarget(influxql(`SELECT count("reporting") AS "devices" FROM (${reporting}) GROUP BY "enterprise"`).alias('$tag_enterprise'))
        .height(8)
        .span(12),
    )
    .withPanel(
      bars('日电量 Energy per day per enterprise (main meters)', 'kwatth')
        .stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
        .withTarget(influxql(energyQuery({ where: `${where} AND ${MAIN_METER}`, every: '1d', groupBy: ['enterprise'], timezone: tz })).alias('$tag_enterprise'))
        .height(9)
        .span(12),
    )
    .withPanel(
      new BarGaugePanel()
        .title('当前负荷 Power now per enterprise (main meters)')
        .unit('kwatt')
        .decimals(0)
        .orientation(VizOrientation.Horizontal)
        .reduceOptions(lastValue())
        .withTarget(
          influxql(
            `SELECT sum("kw") AS "kW" FROM (SELECT last("active_power_kw") AS "kw" FROM "${TELEMETRY}" WHERE ${where} AND ${MAIN_METER} AND time > now() - $onlinewindow GROUP BY ${perDevice}) GROUP BY "enterprise"`,
          ).alias('$tag_enterprise'),
        )
        .height(9)
        .span(12),
    )
    .withPanel(
      new TablePanel()
        .title('企业电量 Energy per enterprise in the range (main meters)')
        .unit('kwatth')
        .decimals(0)
        .withTarget(influxql(energyQuery({ where: `${where} AND ${MAIN_METER}`, groupBy: ['enterprise'], timezone: tz })).table())
        .height(8)
        .span(24),
    )
}

/** Builds every PlantWatt dashboard. */
export function buildDashboards(options: DashboardOptions = {}): BuiltDashboard[] {
  const tz = options.timezone ?? DEFAULT_TIMEZONE
  return [lineEnergy(tz), energyAndCost(tz), efficiency(tz), alerts(tz), province(tz)].map((b) => {
    const dashboard = b.build()
    return { file: `${dashboard.uid}.json`, dashboard }
  })
}

/** The panels of a dashboard, rows included (rows hold panels when collapsed). */
export function dashboardPanels(d: Dashboard): Panel[] {
  const out: Panel[] = []
  for (const p of d.panels ?? []) {
    if (p.type === 'row') out.push(...((p as { panels?: Panel[] }).panels ?? []))
    else out.push(p as Panel)
  }
  return out
}
