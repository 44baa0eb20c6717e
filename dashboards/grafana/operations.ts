import { BigValueGraphMode, ReduceDataOptionsBuilder } from '@grafana/grafana-foundation-sdk/common'
import type * as common from '@grafana/grafana-foundation-sdk/common'
import { DashboardBuilder, DashboardCursorSync, RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { DataqueryBuilder as PromQuery } from '@grafana/grafana-foundation-sdk/prometheus'
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat'
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries'

/** The provisioned Prometheus data source (provisioning.ts gives it this uid). */
export const PROMETHEUS_DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: 'plantwatt-prometheus' }

/** One panel of the operations dashboard: what it shows and the PromQL behind each series. */
export interface OperationsPanel {
  row: string
  title: string
  unit: string
  kind: 'stat' | 'timeseries'
  targets: { expr: string; legend?: string }[]
  description?: string
}

/**
 * The panels, as data: the metric names are those `/api/v1/metrics` (everything in one process) and
 * `--metrics-port` (a component alone) expose — the components' status as gauges (api/metrics.ts),
 * counters included, hence `deriv` rather than `rate` for per-second figures of a running total
 * (a gauge has no counter-reset handling; a process restart shows as one negative step).
 */
export const OPERATIONS_PANELS: readonly OperationsPanel[] = [
  { row: 'Broker', title: '连接 Clients connected', unit: 'none', kind: 'stat', targets: [{ expr: 'sum(plantwatt_broker_clients)' }] },
  {
    row: 'Broker',
    title: '消息 Messages in / out per second',
    unit: 'short',
    kind: 'timeseries',
    targets: [
      { expr: 'sum(deriv(plantwatt_broker_messages_in[2m]))', legend: 'in' },
      { expr: 'sum(deriv(plantwatt_broker_messages_out[2m]))', legend: 'out' },
    ],
  },
  {
    row: 'Broker',
    title: '拒绝 Refused and dropped',
    unit: 'none',
    kind: 'timeseries',
    description:
      'Running totals since the broker started: failed logins, refused connections and subscriptions, messages diverted to the dead-letter topic, session queue messages dropped.',
    targets: [
      { expr: 'sum(plantwatt_broker_auth_failures)', legend: 'auth failures' },
      { expr: 'sum(plantwatt_broker_refused_connections)', legend: 'refused connections' },
      { expr: 'sum(plantwatt_broker_diverted)', legend: 'diverted' },
      { expr: 'sum(plantwatt_broker_queue_dropped)', legend: 'queue dropped' },
    ],
  },
  {
    row: 'Ingest',
    title: '写入 Samples stored per second',
    unit: 'short',
    kind: 'timeseries',
    targets: [{ expr: 'sum(deriv(plantwatt_ingest_written_samples[2m]))', legend: 'samples/s' }],
  },
  {
    row: 'Ingest',
    title: '积压 Oldest unwritten message waits',
    unit: 'ms',
    kind: 'timeseries',
    description: 'How long the oldest message not yet in the store has waited; grows while the store cannot write.',
    targets: [{ expr: 'max(plantwatt_ingest_lag_ms)', legend: 'lag' }],
  },
  {
    row: 'Ingest',
    title: '写库耗时 Store write latency',
    unit: 'ms',
    kind: 'timeseries',
    description:
      "One store write (a batch's points, or its blocks): the mean over the last 2 minutes (write time added up ÷ writes), the last one, and the longest since ingest started.",
    targets: [
      { expr: 'sum(delta(plantwatt_ingest_write_ms_sum[2m])) / sum(delta(plantwatt_ingest_writes[2m]))', legend: 'mean (2 min)' },
      { expr: 'max(plantwatt_ingest_write_ms_last)', legend: 'last' },
      { expr: 'max(plantwatt_ingest_write_ms_max)', legend: 'longest since start' },
    ],
  },
  {
    row: 'Ingest',
    title: '批量 Batch size (points per store write)',
    unit: 'short',
    kind: 'timeseries',
    description:
      'Rows (points and block samples) per batch ingest writes: the mean over the last 2 minutes and the last batch. Small batches at a high rate mean the batch delay (ingest.flushIntervalMs) fires before batchSize fills.',
    targets: [
      { expr: 'sum(delta(plantwatt_ingest_batch_points_sum[2m])) / sum(delta(plantwatt_ingest_batches[2m]))', legend: 'mean (2 min)' },
      { expr: 'max(plantwatt_ingest_last_batch_points)', legend: 'last' },
    ],
  },
  {
    row: 'Ingest',
    title: '死信 Dead letters by reason',
    unit: 'none',
    kind: 'timeseries',
    description: 'Running totals per error code, at the broker (diverted) and in ingest.',
    targets: [
      { expr: 'sum by (key) (plantwatt_ingest_dead_lettered)', legend: 'ingest {{key}}' },
      { expr: 'sum by (key) (plantwatt_broker_diverted_by_reason)', legend: 'broker {{key}}' },
    ],
  },
  {
    row: 'Ingest',
    title: '存储 Embedded store size (file + WAL)',
    unit: 'bytes',
    kind: 'stat',
    description:
      'The embedded store (SQLite) of plantwatt up or plantwatt ingest; with retention on it levels off (storage/README.md). InfluxDB reports its own.',
    targets: [{ expr: 'max(plantwatt_store_file_bytes)' }],
  },
  {
    row: 'Edge',
    title: '缓存 Outbox depth (samples held at the edge)',
    unit: 'none',
    kind: 'timeseries',
    targets: [{ expr: 'sum by (connection) (plantwatt_edge_outbox{key="depth"})', legend: '{{connection}}' }],
  },
  {
    row: 'Edge',
    title: '读取错误 Device read errors per minute',
    unit: 'none',
    kind: 'timeseries',
    targets: [{ expr: 'sum by (device) (deriv(plantwatt_edge_devices_read_errors[5m])) * 60', legend: '{{device}}' }],
  },
  {
    row: 'Edge',
    title: '在线设备 Devices connected',
    unit: 'none',
    kind: 'stat',
    targets: [{ expr: 'sum(plantwatt_edge_devices_connected)' }],
  },
  {
    row: 'Alerts',
    title: '未关闭告警 Open alerts',
    unit: 'none',
    kind: 'stat',
    targets: [{ expr: 'sum(plantwatt_alerts_open_alerts)' }],
  },
]

function panel(p: OperationsPanel): StatPanel | TimeseriesPanel {
  const built =
    p.kind === 'stat'
      ? new StatPanel().graphMode(BigValueGraphMode.Area).reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']))
      : new TimeseriesPanel()
  built.title(p.title).unit(p.unit).datasource(PROMETHEUS_DATASOURCE)
  if (p.description) built.description(p.description)
  p.targets.forEach((t, i) => {
    const q = new PromQuery()
      .datasource(PROMETHEUS_DATASOURCE)
      .expr(t.expr)
      .refId(String.fromCharCode(65 + i))
    built.withTarget(t.legend ? q.legendFormat(t.legend) : q)
  })
  return built.height(p.kind === 'stat' ? 5 : 8).span(p.kind === 'stat' ? 6 : 12)
}

/**
 * PlantWatt operations: broker, ingest, edge and alerts from Prometheus, which scrapes
 * `/api/v1/metrics` of `plantwatt up` / `plantwatt api`, or `--metrics-port` of a component run alone.
 */
export function buildOperationsDashboard(timezone: string): { file: string; dashboard: Dashboard } {
  const builder = new DashboardBuilder('PlantWatt · 运行 Operations')
    .uid('plantwatt-operations')
    .description(
      'The health of PlantWatt itself (not of the plant): messages through the broker, what ingest stores (rate, store write latency, batch size), dead letters, edge buffers and read errors, open alerts. Data source: Prometheus scraping the PlantWatt metrics endpoints.',
    )
    .tags(['plantwatt', 'operations'])
    .timezone(timezone)
    .time({ from: 'now-6h', to: 'now' })
    .refresh('30s')
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly()
  let row = ''
  for (const p of OPERATIONS_PANELS) {
    if (p.row !== row) {
      row = p.row
      builder.withRow(new RowBuilder(row))
    }
    builder.withPanel(panel(p))
  }
  const dashboard = builder.build()
  return { file: `${dashboard.uid}.json`, dashboard }
}
