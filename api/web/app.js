// PlantWatt web UI: plain ES module, no build step, no framework. Served by the API at /ui/app.js.
// Views: live line (#/live), energy & efficiency (#/energy), alerts (#/alerts), province (#/province[/id]),
// sign-in (#/login). Chinese by default, English by the switch in the header (kept in localStorage).
// Every answer shape used here is the route's response schema (api/routes/*.ts); nothing is guessed.

const API = '/api/v1'

// Labels, then column keys of the API's `rows` (same key in both languages), then values shown as badges.
const DICT = {
  zh: {
    'nav.live': '实时', 'nav.energy': '能效', 'nav.alerts': '告警', 'nav.province': '全省', 'nav.docs': 'API 文档',
    loading: '加载中…', none: '暂无数据', noDevices: '暂无设备', connection: '连接失败', updated: '更新',
    line: '产线', scope: '范围', granularity: '粒度', from: '从', to: '至', apply: '查询', exportCsv: '导出 CSV',
    hour: '小时', shift: '班次', day: '日', month: '月', total: '合计',
    powerNow: '当前功率', energyToday: '今日电量', costToday: '今日电费', co2Today: '今日碳排放',
    linePower: '产线功率（近 1 小时）', devices: '设备', machines: '设备状态', costByPeriod: '今日分时电费',
    device: '设备', status: '状态', age: '数据时延', activePower: '有功功率 kW', reactivePower: '无功功率 kvar',
    energyImport: '正向电能 kWh', voltage: '电压 L1/L2/L3 V', current: '电流 L1/L2/L3 A', powerFactor: '功率因数', frequency: '频率 Hz',
    online: '在线', offline: '离线', uncertain: '不确定', bad: '无效', noData: '无数据',
    'state.0': '停机', 'state.1': '待机', 'state.2': '运行', 'state.3': '故障',
    energyCostCo2: '电量、电费与碳排放', sec: '单位产品能耗（对标国家标杆 / 基准水平）', savings: '基线与实际能耗、累计节能量（CUSUM）',
    noBaseline: '该产线尚未建立能耗基线', pickLine: '请选择一条产线查看基线与节能量', baselineRev: '基线版本', modelInvalid: '模型未通过有效性检验，节能量仅供参考',
    totalSavings: '累计节能量', actualKwh: '实际', predictedKwh: '基线预测',
    openAlerts: '未关闭告警', alertHistory: '告警历史', ack: '确认', comment: '备注', alertEvents: '告警事件', close: '关闭',
    progress: '智能工厂 / 数字化车间建设进度', enterprises: '企业列表', back: '返回全省',
    smartFactories: '智能工厂', digitalWorkshops: '数字化车间', qualifiedTotal: '已认定 / 目标', target: '目标',
    provinceNc: '全省数控化率', provinceNet: '全省联网率', provinceAlerts: '未关闭告警', provinceEnergy: '能耗 tce', periodLabel: '统计期',
    rules: '认定条件', lines: '产线与产品能效', equipment: '关键设备',
    login: '登录', username: '用户名', password: '密码', logout: '退出', signedInAs: '当前用户',
    forbidden: '当前角色无权查看此页', notFound: '不存在或无权查看',
    // column keys
    bucket: '时段', energyKwh: '电量 kWh', cost: '电费 元', kgCo2: 'CO₂ kg', kgce: '标煤 kgce', coverage: '数据覆盖率',
    period: '时段', pricePerKwh: '电价 元/kWh', tariff: '电价', demandKw: '需量 kW',
    product: '产品', output: '产量', unit: '单位', value: '单耗', benchmarkUnit: '单耗单位', grade: '等级', benchmark: '标杆值', baseline: '基准值',
    gapToBenchmarkPct: '距标杆 %', gapToBaselinePct: '距基准 %', gbLevel: '国标等级', secKwhPerUnit: 'kWh/单位产品',
    actual: '实际 kWh', predicted: '基线 kWh', savings_kwh: '节能量 kWh', cusum: '累计节能 kWh', enpi: 'EnPI', production: '产量',
    severity: '级别', state: '状态', alertValue: '数值', openedAt: '发生时间', where: '位置', message: '内容', threshold: '阈值', acknowledgedBy: '确认人', resolvedAt: '恢复时间',
    ts: '时间', event: '事件', user: '用户',
    rank: '排名', name: '企业', region: '地区', industry: '行业', ncRate: '数控化率', networkingRate: '联网率', grades: '能效等级',
    worstGapToBaselinePct: '最差距基准 %', energyTce: '能耗 tce', openAlertsCol: '未关闭告警', qualifiedAs: '认定', score: '得分',
    keyEquipment: '关键设备', ncCapable: '数控', networked: '已联网', lastSeen: '最近数据', kind: '类型',
    lineName: '产线', productName: '产品', secValue: '单耗', secUnit: '单位', condition: '条件', passed: '通过', reason: '实际情况',
    // values
    benchmark_grade: '标杆', compliant: '达标', below_baseline: '未达基准', ungraded: '未评级',
    firing: '告警中', acknowledged: '已确认', resolved: '已恢复', critical: '严重', warning: '警告', info: '提示',
    opened: '发生', cleared: '恢复',
    smart_factory: '智能工厂', digital_workshop: '数字化车间', none_q: '未认定',
    critical_peak: '尖峰', peak: '高峰', flat: '平段', valley: '低谷', deep_valley: '深谷', demand_charge: '需量电费',
    yes: '是', no: '否',
  },
  en: {
    'nav.live': 'Live', 'nav.energy': 'Energy', 'nav.alerts': 'Alerts', 'nav.province': 'Province', 'nav.docs': 'API docs',
    loading: 'Loading…', none: 'No data', noDevices: 'No devices yet', connection: 'Connection problem', updated: 'Updated',
    line: 'Line', scope: 'Scope', granularity: 'Granularity', from: 'From', to: 'To', apply: 'Show', exportCsv: 'Export CSV',
    hour: 'Hour', shift: 'Shift', day: 'Day', month: 'Month', total: 'Total',
    powerNow: 'Power now', energyToday: 'Energy today', costToday: 'Cost today', co2Today: 'CO₂ today',
    linePower: 'Line power (last hour)', devices: 'Devices', machines: 'Machine states', costByPeriod: 'Cost today by tariff period',
    device: 'Device', status: 'Status', age: 'Age', activePower: 'Active power kW', reactivePower: 'Reactive kvar',
    energyImport: 'Energy import kWh', voltage: 'Voltage L1/L2/L3 V', current: 'Current L1/L2/L3 A', powerFactor: 'Power factor', frequency: 'Frequency Hz',
    online: 'online', offline: 'offline', uncertain: 'uncertain', bad: 'bad', noData: 'no data',
    'state.0': 'stopped', 'state.1': 'idle', 'state.2': 'running', 'state.3': 'fault',
    energyCostCo2: 'Energy, cost and CO₂', sec: 'Specific energy vs national benchmark / baseline level', savings: 'Baseline vs actual, savings CUSUM',
    noBaseline: 'No energy baseline recorded for this line yet', pickLine: 'Choose a line to see its baseline and savings', baselineRev: 'Baseline revision', modelInvalid: 'The model fails validity: savings are indicative only',
    totalSavings: 'Savings to date', actualKwh: 'actual', predictedKwh: 'baseline',
    openAlerts: 'Open alerts', alertHistory: 'Alert history', ack: 'Acknowledge', comment: 'Comment', alertEvents: 'Events of the alert', close: 'Close',
    progress: 'Smart factories / digital workshops: progress', enterprises: 'Enterprises', back: 'Back to the province',
    smartFactories: 'Smart factories', digitalWorkshops: 'Digital workshops', qualifiedTotal: 'Qualified / target', target: 'Target',
    provinceNc: 'NC rate (province)', provinceNet: 'Networking rate (province)', provinceAlerts: 'Open alerts', provinceEnergy: 'Energy tce', periodLabel: 'Period',
    rules: 'Qualification conditions', lines: 'Lines and product efficiency', equipment: 'Key equipment',
    login: 'Sign in', username: 'User name', password: 'Password', logout: 'Sign out', signedInAs: 'Signed in as',
    forbidden: 'Your role may not see this page', notFound: 'Unknown, or not yours to see',
    bucket: 'Bucket', energyKwh: 'Energy kWh', cost: 'Cost CNY', kgCo2: 'CO₂ kg', kgce: 'Coal eq. kgce', coverage: 'Coverage',
    period: 'Period', pricePerKwh: 'Price CNY/kWh', tariff: 'Tariff', demandKw: 'Demand kW',
    product: 'Product', output: 'Output', unit: 'Unit', value: 'SEC', benchmarkUnit: 'SEC unit', grade: 'Grade', benchmark: 'Benchmark', baseline: 'Baseline level',
    gapToBenchmarkPct: 'Gap to benchmark %', gapToBaselinePct: 'Gap to baseline %', gbLevel: 'GB level', secKwhPerUnit: 'kWh per unit',
    actual: 'Actual kWh', predicted: 'Baseline kWh', savings_kwh: 'Savings kWh', cusum: 'CUSUM kWh', enpi: 'EnPI', production: 'Output',
    severity: 'Severity', state: 'State', alertValue: 'Value', openedAt: 'Opened', where: 'Where', message: 'Message', threshold: 'Threshold', acknowledgedBy: 'Acknowledged by', resolvedAt: 'Resolved',
    ts: 'Time', event: 'Event', user: 'User',
    rank: 'Rank', name: 'Enterprise', region: 'Region', industry: 'Industry', ncRate: 'NC rate', networkingRate: 'Networking rate', grades: 'Grades',
    worstGapToBaselinePct: 'Worst gap to baseline %', energyTce: 'Energy tce', openAlertsCol: 'Open alerts', qualifiedAs: 'Qualified as', score: 'Score',
    keyEquipment: 'Key equipment', ncCapable: 'NC', networked: 'Networked', lastSeen: 'Last data', kind: 'Kind',
    lineName: 'Line', productName: 'Product', secValue: 'SEC', secUnit: 'Unit', condition: 'Condition', passed: 'Passed', reason: 'Found',
    benchmark_grade: 'benchmark', compliant: 'compliant', below_baseline: 'below baseline', ungraded: 'ungraded',
    firing: 'firing', acknowledged: 'acknowledged', resolved: 'resolved', critical: 'critical', warning: 'warning', info: 'info',
    opened: 'opened', cleared: 'cleared',
    smart_factory: 'smart factory', digital_workshop: 'digital workshop', none_q: 'not qualified',
    critical_peak: 'critical peak', peak: 'peak', flat: 'flat', valley: 'valley', deep_valley: 'deep valley', demand_charge: 'demand charge',
    yes: 'yes', no: 'no',
  },
}

const state = {
  lang: localStorage.getItem('pw.lang') === 'en' ? 'en' : 'zh',
  token: sessionStorage.getItem('pw.token') || '',
  me: null,
  plant: null,
  timers: [],
  charts: [],
  /** Bumped by every route(): a view that awaited across a navigation stops drawing. */
  epoch: 0,
}

const t = (key) => DICT[state.lang][key] ?? DICT.zh[key] ?? key
const $ = (id) => document.getElementById(id)
const keyOf = (d) => `${d.enterprise}/${d.site}/${d.line}/${d.device}`
const can = (permission) => !!state.me && state.me.permissions.includes(permission)
const locale = () => (state.lang === 'zh' ? 'zh-CN' : 'en-GB')
/** A badge value's label: grades share the word "benchmark" with a column, qualification 'none' with "no data". */
const valueLabel = (v) => t(v === 'benchmark' ? 'benchmark_grade' : v === 'none' ? 'none_q' : v)

function el(tag, attrs, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v)
    else node.setAttribute(k, v === true ? '' : v)
  }
  // Text only: names come from configuration and must never be parsed as HTML.
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return node
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(`${code}: ${message}`)
    this.status = status
    this.code = code
  }
}

async function api(path, opts = {}) {
  const headers = { accept: 'application/json', ...(opts.body ? { 'content-type': 'application/json' } : {}), ...(state.token ? { authorization: `Bearer ${state.token}` } : {}) }
  const res = await fetch(`${API}/${path}`, { method: opts.method || 'GET', headers, body: opts.body ? JSON.stringify(opts.body) : undefined })
  const body = await res.json().catch(() => null)
  if (res.status === 401 && state.me && path !== 'auth/login') {
    // Token expired or the user was removed: back to the sign-in form.
    logout()
  }
  if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText)
  return body
}

function showError(err) {
  $('error').textContent = err ? `${t('connection')}: ${err.message}` : ''
}

/** The text of a failed request in a view: refused and unknown in words, else the API's message. */
function failText(err) {
  return err?.status === 403 ? t('forbidden') : err?.status === 404 ? `${t('notFound')} (${err.message})` : err?.message ?? t('none')
}
const failBox = (err) => el('p', { class: 'empty' }, failText(err))

function fmt(v, digits = 1) {
  if (v === undefined || v === null || Number.isNaN(v)) return '—'
  if (typeof v !== 'number') return String(v)
  const d = Math.abs(v) >= 1000 ? 0 : digits
  return v.toLocaleString(locale(), { minimumFractionDigits: d, maximumFractionDigits: d })
}
const pct = (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—')
const dateTime = (ms) => (typeof ms === 'number' ? new Date(ms).toLocaleString(locale()) : '—')

function formatAge(ms) {
  if (ms == null) return '—'
  if (ms < 1000) return `${ms} ms`
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`
  return `${Math.round(ms / 3600000)} h`
}

/**
 * A table of rows. `columns`: [key, kind?] with kind num|int|pct|time|badge|text|bool or a function
 * (value, row) → node; headers are the translated keys. Sortable tables sort on a header click.
 */
function rowsTable(rows, columns, opts = {}) {
  if (!rows || rows.length === 0) return el('p', { class: 'empty' }, t('none'))
  let sorted = rows
  let dir = 1
  let by = ''
  const body = el('tbody')
  const head = el('tr', {}, columns.map(([c, kind]) => el('th', {
    class: `${opts.sortable ? 'sortable' : ''} ${kind === 'text' || kind === 'badge' || typeof kind === 'function' ? 'text' : ''}`,
    'data-col': c,
    onclick: opts.sortable ? () => sortBy(c) : undefined,
  }, opts.label?.[c] ?? t(c))))
  if (opts.actions) head.append(el('th'))
  function cell(c, kind, row) {
    const v = row[c]
    if (typeof kind === 'function') return el('td', { class: 'text' }, kind(v, row))
    if (v === null || v === undefined || v === '') return el('td', { class: kind === 'text' || kind === 'badge' ? 'text' : 'num' }, '—')
    switch (kind) {
      case 'badge': return el('td', { class: 'text' }, el('span', { class: `badge ${v}` }, valueLabel(v)))
      case 'time': return el('td', { class: 'num' }, dateTime(v))
      case 'pct': return el('td', { class: 'num' }, pct(v))
      case 'int': return el('td', { class: 'num' }, fmt(v, 0))
      case 'bool': return el('td', {}, v ? '✓' : '—')
      case 'text': return el('td', { class: 'text' }, String(v))
      default: return el('td', { class: 'num' }, typeof v === 'number' ? fmt(v, kind === 'num3' ? 3 : kind === 'num2' ? 2 : 1) : String(v))
    }
  }
  function fill() {
    body.replaceChildren(...sorted.map((r) => el('tr', opts.rowAttrs ? opts.rowAttrs(r) : {}, columns.map(([c, kind]) => cell(c, kind, r)), opts.actions ? el('td', {}, opts.actions(r)) : null)))
  }
  function sortBy(c) {
    dir = by === c ? -dir : 1
    by = c
    const none = (x) => x === null || x === undefined
    sorted = [...rows].sort((a, b) => (a[c] === b[c] ? 0 : none(a[c]) ? 1 : none(b[c]) ? -1 : a[c] < b[c] ? -dir : dir))
    for (const th of head.children) th.setAttribute('aria-sort', th.getAttribute('data-col') === c ? (dir === 1 ? 'ascending' : 'descending') : 'none')
    fill()
  }
  fill()
  return el('div', { class: 'scroll' }, el('table', opts.id ? { id: opts.id } : {}, el('thead', {}, head), body))
}

let uplotLoading
function loadUplot() {
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve, reject) => {
      document.head.append(el('link', { rel: 'stylesheet', href: '/ui/uplot.css' }))
      const s = el('script', { src: '/ui/uplot.js' })
      s.onload = () => resolve(window.uPlot)
      s.onerror = () => reject(new Error('chart library did not load'))
      document.head.append(s)
    })
  }
  return uplotLoading
}

const COLORS = ['#2456c5', '#1f8a4c', '#b76e00', '#b42318']
/** Axis labels with as many decimals as the tick step needs (57.5 kW, not 58). */
function tickLabels(_u, ticks) {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1
  const digits = step >= 1 || step === 0 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)))
  return ticks.map((v) => v.toLocaleString(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }))
}

/** A uPlot chart; `x` epoch seconds (time) or 0..n-1 with `labels` for the axis. */
async function chart(container, series, opts = {}) {
  const UPlot = await loadUplot()
  if (!document.body.contains(container)) return undefined
  const width = Math.max(280, container.clientWidth - 12)
  const labels = opts.labels
  const plot = new UPlot(
    {
      width,
      height: opts.height || 220,
      // Bars start at zero, on every axis of the chart (a bar cut at 200 000 reads as nothing).
      scales: { x: { time: !labels }, ...(series.some((s) => s.bars) ? Object.fromEntries(['y', ...series.map((s) => s.scale).filter(Boolean)].map((k) => [k, { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] }])) : {}) },
      // A series with its own `scale` (another unit, or a much smaller range) gets an axis on the right.
      axes: [
        labels ? { values: (_u, ticks) => ticks.map((i) => labels[i] ?? '') } : {},
        { size: 72, values: tickLabels },
        ...[...new Set(series.map((s) => s.scale).filter(Boolean))].map((scale) => ({ scale, side: 1, size: 72, grid: { show: false }, values: tickLabels })),
      ],
      series: [{ ...(labels ? { value: (_u, i) => labels[i] ?? '' } : {}) }, ...series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % 4],
        width: 2,
        ...(s.scale ? { scale: s.scale } : {}),
        ...(s.bars ? { paths: UPlot.paths.bars({ size: [0.6] }), fill: `${COLORS[i % 4]}55` } : {}),
      }))],
    },
    [opts.x, ...series.map((s) => s.values)],
    container,
  )
  plot.box = container
  state.charts.push(plot)
  return plot
}

// Charts follow the window (a tablet turned, a window resized): uPlot draws at a fixed size.
let resizing
window.addEventListener('resize', () => {
  clearTimeout(resizing)
  resizing = setTimeout(() => {
    for (const p of state.charts) p.setSize({ width: Math.max(280, p.box.clientWidth - 12), height: p.height })
  }, 100)
})

/** YYYY-MM-DD of an instant in a zone (the API reads a bare date as local midnight there). */
function localDate(ts, tz) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ts))
}
const DAY_MS = 86_400_000
/** The day after a local date, as a local date (the API's stop is exclusive). */
const nextDay = (date) => new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10)

function allLines() {
  const out = []
  for (const e of state.plant?.enterprises ?? []) for (const s of e.sites) for (const l of s.lines) out.push({ ...l, enterprise: e, site: s })
  return out
}

function scopeOptions(selected) {
  const opts = []
  for (const e of state.plant?.enterprises ?? []) {
    opts.push(el('option', { value: e.id, selected: selected === e.id }, e.name))
    for (const s of e.sites) {
      opts.push(el('option', { value: `${e.id}/${s.id}`, selected: selected === `${e.id}/${s.id}` }, `· ${s.name}`))
      for (const l of s.lines) opts.push(el('option', { value: l.path, selected: selected === l.path }, `· · ${l.name}`))
    }
  }
  return opts
}

function hashParams() {
  const [path, query] = location.hash.slice(1).split('?')
  return { parts: (path || '/live').split('/').filter(Boolean), params: new URLSearchParams(query || '') }
}

function every(ms, fn) {
  const id = setInterval(fn, ms)
  state.timers.push(id)
}

const kpi = (id, label) => el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value', id }, '—'), el('div', { class: 'sub', id: `${id}-sub` }))

// ---------------------------------------------------------------- live view

const LIVE_COLUMNS = [
  [['active_power_kw'], 1],
  [['reactive_power_kvar'], 1],
  [['energy_import_kwh'], 1],
  [['voltage_l1_v', 'voltage_l2_v', 'voltage_l3_v'], 1],
  [['current_l1_a', 'current_l2_a', 'current_l3_a'], 1],
  [['power_factor'], 3],
  [['frequency_hz'], 2],
]

function valueCell(d, names, digits) {
  const td = el('td', { class: 'num' })
  names.forEach((q, i) => {
    if (i > 0) td.append(' / ')
    const v = d.values[q]
    const quality = d.quality[q]
    td.append(el('span', quality ? { class: `q-${quality}`, title: t(quality) } : {}, v === undefined ? '—' : v.toFixed(digits)))
  })
  return td
}

/** Cost rows of one bucket summed by tariff period (two tariffs on one line would give two rows of a period). */
function costByPeriod(rows) {
  const by = new Map()
  for (const r of rows) {
    const p = by.get(r.period) ?? { period: r.period, energyKwh: 0, pricePerKwh: r.pricePerKwh, cost: 0 }
    p.energyKwh += r.energyKwh
    p.cost += r.cost
    if (p.pricePerKwh !== r.pricePerKwh) p.pricePerKwh = null
    by.set(r.period, p)
  }
  return [...by.values()]
}

async function liveView(main, params) {
  const lines = allLines()
  const path = params.get('line') || lines[0]?.path || ''
  const line = lines.find((l) => l.path === path)
  const [enterprise, site, lineId] = path.split('/')
  const tz = line?.site.timezone || state.plant?.timezone || 'Asia/Shanghai'
  const select = el('select', { id: 'line-select', onchange: (e) => { location.hash = `#/live?line=${e.target.value}` } }, lines.map((l) => el('option', { value: l.path, selected: l.path === path }, `${l.enterprise.name} / ${l.name}`)))
  const chartBox = el('div', { class: 'chart', id: 'power-chart' })
  main.replaceChildren(
    el('div', { class: 'toolbar' }, el('label', {}, `${t('line')} `, select), el('span', { class: 'path' }, `${t('updated')}: `, el('span', { id: 'updated' }, '—'))),
    el('div', { class: 'kpis' }, kpi('kpi-power', 'powerNow'), kpi('kpi-energy', 'energyToday'), kpi('kpi-cost', 'costToday'), kpi('kpi-co2', 'co2Today')),
    el('div', { class: 'panel' }, el('h2', {}, t('linePower')), chartBox),
    el('h2', {}, t('devices')),
    el('div', { class: 'scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, [t('device'), t('status'), t('age'), t('activePower'), t('reactivePower'), t('energyImport'), t('voltage'), t('current'), t('powerFactor'), t('frequency')].map((h) => el('th', {}, h)))),
      el('tbody', { id: 'rows' }, el('tr', {}, el('td', { class: 'empty', colspan: '10' }, t('loading')))))),
    el('h2', {}, t('machines')), el('div', { id: 'machines' }),
    el('h2', {}, t('costByPeriod')), el('div', { id: 'cost-table' }),
  )
  if (!line) return
  const epoch = state.epoch
  const meters = line.devices.filter((d) => d.kind === 'meter')
  const machineDevices = line.devices.filter((d) => d.kind === 'machine')
  // Line power = the main meter; without one, the sum of the meters.
  const powerDevices = line.mainMeter ? [line.mainMeter] : meters.map((d) => d.id)
  const query = `enterprise=${enterprise}&site=${site}&line=${lineId}`
  const xs = []
  const ys = []
  let plot
  let lastTs = 0

  async function refreshLive() {
    try {
      const live = await api(`live?${query}`)
      if (epoch !== state.epoch) return
      const byId = new Map(live.devices.map((d) => [d.device, d]))
      const rows = line.devices.filter((m) => m.kind !== 'machine' || byId.has(m.id)).map((m) => ({ enterprise, site, line: lineId, device: m.id, name: m.name, kind: m.kind, online: false, ageMs: null, values: {}, quality: {}, ...byId.get(m.id) }))
      $('rows').replaceChildren(...(rows.length ? rows.map((d) => el('tr', {},
        el('td', {}, d.name || d.device, el('div', { class: 'path' }, keyOf(d))),
        el('td', {}, el('span', { class: `badge ${d.online ? 'on' : 'off'}` }, t(d.online ? 'online' : 'offline'))),
        el('td', { class: 'num' }, formatAge(d.ageMs)),
        ...LIVE_COLUMNS.map(([names, digits]) => valueCell(d, names, digits)),
      )) : [el('tr', {}, el('td', { class: 'empty', colspan: '10' }, t('noDevices')))]))
      $('machines').replaceChildren(machineDevices.length === 0 ? el('p', { class: 'empty' }, t('none')) : el('div', { class: 'kpis' }, machineDevices.map((m) => {
        const d = byId.get(m.id)
        const s = d?.values.machine_state
        const cls = s === undefined ? 'off' : ['stopped', 'idle', 'running', 'fault'][s] || 'off'
        return el('div', { class: 'kpi machine', 'data-device': m.id }, el('div', { class: 'label' }, m.name), el('span', { class: `badge ${cls}` }, s === undefined ? t('noData') : t(`state.${s}`)), el('div', { class: 'sub' }, d ? `${fmt(d.values.active_power_kw)} kW` : ''))
      })))
      let power = 0
      let seen = false
      for (const id of powerDevices) {
        const v = byId.get(id)?.values.active_power_kw
        if (typeof v === 'number') { power += v; seen = true }
      }
      $('kpi-power').textContent = seen ? `${fmt(power)} kW` : '—'
      $('updated').textContent = new Date(live.ts).toLocaleTimeString(locale())
      if (seen && plot && live.ts - lastTs >= 1000) {
        lastTs = live.ts
        xs.push(live.ts / 1000)
        ys.push(power)
        while (xs.length && xs[0] < live.ts / 1000 - 3600) { xs.shift(); ys.shift() }
        plot.setData([xs, ys])
      }
      showError(null)
    } catch (err) {
      showError(err)
    }
  }

  async function refreshToday() {
    if (!can('reports')) {
      for (const id of ['kpi-energy', 'kpi-cost', 'kpi-co2']) $(id).textContent = '—'
      $('cost-table').replaceChildren(el('p', { class: 'empty' }, t('forbidden')))
      return
    }
    const q = `scope=${path}&start=${localDate(Date.now(), tz)}&stop=${Date.now()}&granularity=total`
    const [energy, cost, carbon] = await Promise.allSettled([api(`energy?${q}`), api(`cost?${q}`), api(`carbon?${q}`)])
    if (epoch !== state.epoch) return
    if (energy.status === 'fulfilled') $('kpi-energy').textContent = `${fmt(energy.value.energyKwh)} kWh`
    if (cost.status === 'fulfilled') {
      const c = cost.value
      $('kpi-cost').textContent = `¥ ${fmt(c.totalCost, 2)}`
      $('kpi-cost-sub').textContent = c.tariffs.map((x) => x.id).join(', ')
      $('cost-table').replaceChildren(rowsTable(costByPeriod(c.rows), [['period', 'badge'], ['energyKwh'], ['pricePerKwh', 'num3'], ['cost', 'num2']], { id: 'cost-periods' }))
    } else $('cost-table').replaceChildren(failBox(cost.reason))
    if (carbon.status === 'fulfilled') {
      const c = carbon.value
      $('kpi-co2').textContent = `${fmt(c.kgCo2)} kg`
      const f = c.factors[0]
      if (f) $('kpi-co2-sub').textContent = `${f.region} ${f.year}: ${f.kgCo2PerKwh} kg/kWh`
    }
  }

  await refreshLive()
  every(1000, refreshLive)
  refreshToday().catch(showError)
  every(60_000, () => refreshToday().catch(showError))
  // The chart after the first values: the hour's history in minute means, then one point a second from /live.
  const now = Date.now()
  const series = await Promise.all(powerDevices.map((id) => api(`series?device=${path}/${id}&quantity=active_power_kw&start=${now - 3_600_000}&stop=${now}&every=1m&fn=mean`).catch(() => ({ points: [] }))))
  if (epoch !== state.epoch) return
  const sum = new Map()
  for (const s of series) for (const p of s.points) sum.set(p.ts, (sum.get(p.ts) || 0) + p.value)
  const history = [...sum.entries()].sort((a, b) => a[0] - b[0])
  xs.unshift(...history.map(([ts]) => ts / 1000))
  ys.unshift(...history.map(([, v]) => v))
  plot = await chart(chartBox, [{ label: 'kW', values: ys }], { x: xs })
}

// ---------------------------------------------------------------- energy & efficiency view

async function energyView(main, params) {
  const lines = allLines()
  const scope = params.get('scope') || lines[0]?.path || state.plant?.enterprises[0]?.id || ''
  const gran = params.get('granularity') || 'day'
  const tz = state.plant?.timezone || 'Asia/Shanghai'
  const today = localDate(Date.now(), tz)
  const start = params.get('start') || localDate(Date.now() - 6 * DAY_MS, tz)
  const stop = params.get('stop') || today
  const line = lines.find((l) => l.path === scope)
  const go = () => {
    const q = new URLSearchParams({ scope: $('scope').value, granularity: $('gran').value, start: $('start').value, stop: $('stop').value })
    location.hash = `#/energy?${q}`
  }
  main.replaceChildren(
    el('div', { class: 'toolbar' },
      el('label', {}, `${t('scope')} `, el('select', { id: 'scope' }, scopeOptions(scope))),
      el('label', {}, `${t('granularity')} `, el('select', { id: 'gran' }, ['hour', 'shift', 'day', 'month'].map((g) => el('option', { value: g, selected: g === gran }, t(g))))),
      el('label', {}, `${t('from')} `, el('input', { id: 'start', type: 'date', value: start })),
      el('label', {}, `${t('to')} `, el('input', { id: 'stop', type: 'date', value: stop })),
      el('button', { class: 'primary', id: 'apply', onclick: go }, t('apply'))),
    el('h2', {}, t('energyCostCo2')), el('div', { class: 'panel' }, el('div', { class: 'chart', id: 'energy-chart' })), el('div', { id: 'energy-table' }),
    el('h2', {}, t('sec')), el('div', { id: 'sec-table' }),
    el('h2', {}, t('savings')), el('div', { class: 'kpis', id: 'savings-kpis' }), el('div', { class: 'panel' }, el('div', { class: 'chart', id: 'savings-chart' })), el('div', { id: 'savings-table' }),
  )
  if (!can('reports')) {
    for (const id of ['energy-table', 'sec-table', 'savings-table']) $(id).replaceChildren(el('p', { class: 'empty' }, t('forbidden')))
    return
  }
  const epoch = state.epoch
  // `stop` is the last day shown: the API's stop is exclusive.
  const q = `scope=${encodeURIComponent(scope)}&start=${start}&stop=${nextDay(stop)}`
  const [energy, cost, carbon, sec] = await Promise.allSettled([
    api(`energy?${q}&granularity=${gran}`), api(`cost?${q}&granularity=${gran}`), api(`carbon?${q}&granularity=${gran}`), api(`sec?${q}&granularity=total`),
  ])
  if (epoch !== state.epoch) return
  if (energy.status === 'fulfilled') {
    // One row per bucket: energy, the cost of its tariff periods summed, its CO2.
    const byBucket = new Map(energy.value.rows.map((r) => [r.bucket, { bucket: r.bucket, energyKwh: r.energyKwh, cost: null, kgCo2: null, coverage: r.coverage }]))
    if (cost.status === 'fulfilled') for (const r of cost.value.rows) { const b = byBucket.get(r.bucket); if (b) b.cost = (b.cost ?? 0) + r.cost }
    if (carbon.status === 'fulfilled') for (const r of carbon.value.rows) { const b = byBucket.get(r.bucket); if (b) b.kgCo2 = r.kgCo2 }
    const rows = [...byBucket.values()]
    $('energy-table').replaceChildren(rowsTable(rows, [['bucket', 'text'], ['energyKwh'], ['cost', 'num2'], ['kgCo2'], ['coverage', 'pct']], { id: 'energy-rows' }))
    if (rows.length) {
      chart($('energy-chart'), [{ label: 'kWh', values: rows.map((r) => r.energyKwh), bars: true }, { label: t('cost'), values: rows.map((r) => r.cost), scale: 'cny' }], { x: rows.map((_, i) => i), labels: rows.map((r) => r.bucket) }).catch(showError)
    }
  } else $('energy-table').replaceChildren(failBox(energy.reason))
  if (sec.status === 'fulfilled') {
    const rows = sec.value.rows.map((r) => ({ ...r, line: r.line.split('/').slice(1).join('/'), value: r.value, unitOfValue: r.benchmarkUnit ?? `kWh/${r.unit}` }))
    $('sec-table').replaceChildren(rowsTable(rows, [['line', 'text'], ['product', 'text'], ['output'], ['unit', 'text'], ['value', 'num2'], ['benchmarkUnit', (_v, r) => r.unitOfValue], ['grade', 'badge'], ['benchmark', 'num2'], ['baseline', 'num2'], ['gapToBenchmarkPct'], ['gapToBaselinePct'], ['gbLevel', 'text']], { id: 'sec-rows' }))
  } else $('sec-table').replaceChildren(failBox(sec.reason))
  await savingsPart(line, start, nextDay(stop), epoch)
}

/** Baseline vs actual of a line with its savings CUSUM, over [start, stop) or from the first baseline in force. */
async function savingsPart(line, start, stop, epoch) {
  if (!line) return $('savings-table').replaceChildren(el('p', { class: 'empty' }, t('pickLine')))
  try {
    const baselines = await api(`baselines?scope=${encodeURIComponent(line.path)}`)
    if (epoch !== state.epoch) return
    if (baselines.rows.length === 0) return $('savings-table').replaceChildren(el('p', { class: 'empty', id: 'no-baseline' }, t('noBaseline')))
    const first = baselines.rows[0]
    const tz = line.site.timezone
    // Savings exist only from the first baseline in force on.
    const from = localDate(first.effectiveFrom, tz) >= start ? first.effectiveFrom : start
    const s = await api(`savings?scope=${encodeURIComponent(line.path)}&start=${from}&stop=${stop}`)
    if (epoch !== state.epoch) return
    const last = baselines.rows[baselines.rows.length - 1]
    $('savings-kpis').replaceChildren(
      el('div', { class: 'kpi' }, el('div', { class: 'label' }, t('totalSavings')), el('div', { class: 'value', id: 'total-savings' }, `${fmt(s.totalSavings)} kWh`), el('div', { class: 'sub' }, s.savingsShare === null ? '' : pct(s.savingsShare))),
      el('div', { class: 'kpi' }, el('div', { class: 'label' }, t('baselineRev')), el('div', { class: 'value' }, `#${last.revision}`), el('div', { class: 'sub' }, `R² ${fmt(last.r2, 2)} · ${last.variables} · ${localDate(last.effectiveFrom, tz)}`)),
      ...(s.modelValid ? [] : [el('div', { class: 'kpi warn' }, el('div', { class: 'label' }, t('modelInvalid')), el('div', { class: 'sub' }, s.modelReasons.join('; ')))]),
    )
    const rows = s.rows.map((r) => ({ ...r, savings_kwh: r.savings }))
    $('savings-table').replaceChildren(rowsTable(rows, [['period', 'text'], ['production'], ['actual'], ['predicted'], ['savings_kwh'], ['cusum'], ['enpi', 'num3'], ['coverage', 'pct']], { id: 'savings-rows' }))
    if (rows.length) {
      chart($('savings-chart'), [{ label: t('actualKwh'), values: rows.map((r) => r.actual) }, { label: t('predictedKwh'), values: rows.map((r) => r.predicted) }, { label: 'CUSUM', values: rows.map((r) => r.cusum), scale: 'cusum' }], { x: rows.map((_, i) => i), labels: rows.map((r) => r.period) }).catch(showError)
    }
  } catch (err) {
    $('savings-table').replaceChildren(failBox(err))
  }
}

// ---------------------------------------------------------------- alerts view

const ALERT_COLUMNS = [['severity', 'badge'], ['state', 'badge'], ['openedAt', 'time'], ['where', 'text'], ['message', 'text'], ['value'], ['threshold'], ['acknowledgedBy', 'text'], ['comment', 'text'], ['resolvedAt', 'time']]

async function alertsView(main) {
  main.replaceChildren(el('h2', {}, t('openAlerts')), el('div', { id: 'open-alerts' }, t('loading')), el('div', { id: 'alert-detail' }), el('h2', {}, t('alertHistory')), el('div', { id: 'alert-history' }))
  const epoch = state.epoch
  const shown = (r) => ({ ...r, where: `${r.line} / ${r.device}`, message: state.lang === 'zh' ? r.messageZh : r.message })
  const link = (v, r) => el('a', { href: '#', class: 'alert-link', onclick: (e) => { e.preventDefault(); detail(r.id).catch(showError) } }, v)
  async function refresh() {
    try {
      const all = await api('alerts?limit=500')
      if (epoch !== state.epoch) return
      const open = all.rows.filter((r) => r.state !== 'resolved').map(shown)
      const cols = ALERT_COLUMNS.map(([c, k]) => (c === 'message' ? [c, link] : [c, k]))
      $('open-alerts').replaceChildren(rowsTable(open, cols.filter(([c]) => c !== 'resolvedAt'), {
        id: 'open-alert-rows',
        label: { value: t('alertValue') },
        rowAttrs: (r) => ({ 'data-alert': r.id }),
        actions: (r) => (can('ack') && r.state === 'firing' ? ackForm(r) : null),
      }))
      $('alert-history').replaceChildren(rowsTable(all.rows.filter((r) => r.state === 'resolved').map(shown), cols, { id: 'alert-history-rows', label: { value: t('alertValue') }, rowAttrs: (r) => ({ 'data-alert': r.id }) }))
      showError(null)
    } catch (err) {
      $('open-alerts').replaceChildren(failBox(err))
    }
  }
  async function detail(id) {
    const a = await api(`alerts/${encodeURIComponent(id)}`)
    const rows = a.rows.map((h) => ({ ...h, message: state.lang === 'zh' ? h.messageZh : h.message }))
    $('alert-detail').replaceChildren(el('div', { class: 'panel' },
      el('div', { class: 'toolbar' }, el('h2', {}, `${t('alertEvents')}: ${a.alert.rule} · ${a.alert.device}`), el('button', { onclick: () => $('alert-detail').replaceChildren() }, t('close'))),
      rowsTable(rows, [['ts', 'time'], ['event', 'badge'], ['user', 'text'], ['comment', 'text'], ['value'], ['message', 'text']], { id: 'alert-events', label: { value: t('alertValue') } })))
  }
  function ackForm(r) {
    const input = el('input', { placeholder: t('comment'), 'aria-label': t('comment'), class: 'ack-comment', maxlength: '1000' })
    return el('span', { class: 'ack-form' }, input, ' ', el('button', {
      class: 'ack',
      onclick: async () => {
        try {
          await api(`alerts/${encodeURIComponent(r.id)}/ack`, { method: 'POST', body: { comment: input.value } })
          await refresh()
        } catch (err) { showError(err) }
      },
    }, t('ack')))
  }
  await refresh()
  // Not while someone types a comment: the form would be replaced under their fingers.
  every(10_000, () => { if (!document.activeElement?.classList.contains('ack-comment')) refresh() })
}

// ---------------------------------------------------------------- province view

async function downloadCsv(path, filename) {
  const res = await fetch(`${API}/${path}`, { headers: { accept: 'text/csv', ...(state.token ? { authorization: `Bearer ${state.token}` } : {}) } })
  if (!res.ok) throw new Error(`HTTP ${res.status}`)
  const url = URL.createObjectURL(await res.blob())
  const a = el('a', { href: url, download: filename })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

const gradeBadges = (_v, r) => el('span', { class: 'grades' },
  r.benchmarkGrades ? el('span', { class: 'badge benchmark' }, `${valueLabel('benchmark')} ${r.benchmarkGrades}`) : null, ' ',
  r.compliantGrades ? el('span', { class: 'badge compliant' }, `${valueLabel('compliant')} ${r.compliantGrades}`) : null, ' ',
  r.belowBaselineGrades ? el('span', { class: 'badge below_baseline' }, `${valueLabel('below_baseline')} ${r.belowBaselineGrades}`) : null,
  r.gradedProducts === 0 ? '—' : null)

async function provinceView(main, parts) {
  if (!can('commission')) return main.replaceChildren(el('p', { class: 'empty', id: 'forbidden' }, t('forbidden')))
  if (parts[1]) return enterpriseView(main, decodeURIComponent(parts[1]))
  main.replaceChildren(el('h2', {}, t('progress')), el('div', { id: 'progress' }, t('loading')),
    el('div', { class: 'toolbar' }, el('h2', {}, t('enterprises')), el('button', { id: 'export', onclick: () => downloadCsv('commission/enterprises', 'enterprises.csv').catch(showError) }, t('exportCsv'))),
    el('div', { id: 'enterprises' }))
  const epoch = state.epoch
  const [overview, list] = await Promise.allSettled([api('commission/overview'), api('commission/enterprises')])
  if (epoch !== state.epoch) return
  if (overview.status === 'fulfilled') {
    const o = overview.value
    const p = o.progress
    const bar = (label, n, id) => el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value', id }, `${n} / ${p.target}`), el('div', { class: 'progress' }, el('div', { style: `width:${Math.min(100, (n / p.target) * 100)}%` })))
    const fig = (label, v, sub) => el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value' }, v), el('div', { class: 'sub' }, sub ?? ''))
    $('progress').replaceChildren(
      el('div', { class: 'kpis' }, bar('qualifiedTotal', p.qualified, 'qualified'), bar('smartFactories', p.smartFactories, 'smart'), bar('digitalWorkshops', p.digitalWorkshops, 'workshops')),
      el('div', { class: 'kpis' },
        fig('provinceNc', pct(o.ncRate)), fig('provinceNet', pct(o.networkingRate)), fig('provinceAlerts', fmt(o.openAlerts, 0)),
        fig('provinceEnergy', fmt(o.energyTce), `${t('periodLabel')}: ${localDate(o.period.start, o.period.timezone)} – ${localDate(o.period.end - 1, o.period.timezone)}`)))
  } else $('progress').replaceChildren(failBox(overview.reason))
  if (list.status === 'fulfilled') {
    $('enterprises').replaceChildren(rowsTable(list.value.rows, [
      ['rank', 'int'],
      ['name', (v, r) => el('a', { href: `#/province/${encodeURIComponent(r.enterprise)}`, class: 'drill', 'data-enterprise': r.enterprise }, v)],
      ['region', 'text'], ['ncRate', 'pct'], ['networkingRate', 'pct'], ['benchmarkGrades', gradeBadges], ['worstGapToBaselinePct'],
      ['energyTce'], ['openAlerts', 'int'], ['qualifiedAs', 'badge'], ['score'],
    ], { sortable: true, id: 'enterprise-rows', rowAttrs: (r) => ({ 'data-enterprise': r.enterprise }), label: { benchmarkGrades: t('grades'), openAlerts: t('openAlertsCol') } }))
  } else $('enterprises').replaceChildren(failBox(list.reason))
}

async function enterpriseView(main, id) {
  main.replaceChildren(el('a', { href: '#/province', id: 'back' }, `← ${t('back')}`), el('div', { id: 'enterprise' }, t('loading')))
  const epoch = state.epoch
  try {
    const e = await api(`commission/enterprises/${encodeURIComponent(id)}`)
    if (epoch !== state.epoch) return
    const fig = (label, v) => el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value' }, v))
    const conditions = e.rules.flatMap((r) => r.conditions.map((c) => ({ rule: r.rule, condition: c.condition, passed: c.passed, reason: c.reason })))
    $('enterprise').replaceChildren(
      el('h2', { id: 'enterprise-name' }, e.name),
      el('div', { class: 'kpis' }, fig('rank', `#${e.rank} · ${fmt(e.score)}`), fig('qualifiedAs', valueLabel(e.qualifiedAs)), fig('ncRate', pct(e.ncRate)), fig('networkingRate', pct(e.networkingRate)), fig('energyTce', fmt(e.energyTce)), fig('openAlertsCol', fmt(e.openAlerts, 0))),
      el('h2', {}, t('lines')),
      rowsTable(e.lines, [['lineName', 'text'], ['productName', 'text'], ['output'], ['sec', 'num2'], ['secUnit', 'text'], ['grade', 'badge'], ['benchmark', 'num2'], ['baseline', 'num2'], ['gapToBenchmarkPct'], ['gapToBaselinePct']], { id: 'enterprise-lines', label: { sec: t('secValue') } }),
      el('h2', {}, t('rules')),
      rowsTable(conditions, [['rule', 'badge'], ['condition', 'text'], ['passed', 'bool'], ['reason', 'text']], { label: { rule: t('qualifiedAs') } }),
      el('h2', {}, t('equipment')),
      rowsTable(e.equipment, [['name', 'text'], ['line', (v) => v.split('/').pop()], ['kind', 'text'], ['ncCapable', 'bool'], ['networked', 'bool'], ['lastSeen', 'time']], { id: 'enterprise-equipment', label: { name: t('device'), line: t('line') } }),
    )
  } catch (err) {
    $('enterprise').replaceChildren(failBox(err))
  }
}

// ---------------------------------------------------------------- login, shell, routing

function loginView(main) {
  const user = el('input', { id: 'login-user', autocomplete: 'username' })
  const pass = el('input', { id: 'login-pass', type: 'password', autocomplete: 'current-password' })
  const msg = el('div', { id: 'login-error', role: 'status' })
  const submit = async (ev) => {
    ev.preventDefault()
    try {
      const r = await api('auth/login', { method: 'POST', body: { username: user.value, password: pass.value } })
      state.token = r.token
      sessionStorage.setItem('pw.token', r.token)
      await start()
      if (location.hash === '#/live') route()
      else location.hash = '#/live'
    } catch (err) {
      msg.textContent = err.message
    }
  }
  main.replaceChildren(el('form', { class: 'login', onsubmit: submit }, el('h2', {}, t('login')), el('label', {}, t('username'), user), el('label', {}, t('password'), pass), el('button', { class: 'primary', type: 'submit', id: 'login-submit' }, t('login')), msg))
}

function renderShell() {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en'
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.getAttribute('data-i18n'))
  $('lang').textContent = state.lang === 'zh' ? 'EN' : '中文'
  const me = state.me
  const box = $('user')
  box.replaceChildren()
  if (me && me.via !== 'none') box.append(el('span', { id: 'me' }, `${me.id} · ${me.enterprise ?? me.role}`), ' ', el('button', { id: 'logout', onclick: logout }, t('logout')))
  // Views the user's role cannot use are not offered.
  const views = { live: 'live', energy: 'reports', alerts: 'alerts', province: 'commission' }
  for (const a of document.querySelectorAll('#nav a')) a.hidden = !me || !can(views[a.getAttribute('data-view')])
}

function logout() {
  state.token = ''
  state.me = null
  state.plant = null
  sessionStorage.removeItem('pw.token')
  if (location.hash === '#/login') route()
  else location.hash = '#/login'
}

async function route() {
  state.epoch++
  for (const id of state.timers) clearInterval(id)
  state.timers = []
  for (const c of state.charts) c.destroy()
  state.charts = []
  renderShell()
  const { parts, params } = hashParams()
  const name = parts[0] || 'live'
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('data-view') === name)
  const main = $('view')
  if (name === 'login' || !state.me) return loginView(main)
  try {
    if (name === 'energy') await energyView(main, params)
    else if (name === 'alerts') await alertsView(main)
    else if (name === 'province') await provinceView(main, parts)
    else await liveView(main, params)
  } catch (err) {
    showError(err)
  }
}

async function start() {
  // Both at once: the first values should not wait for two round trips in a row.
  const [me, plant] = await Promise.allSettled([api('auth/me'), api('plant')])
  state.me = me.status === 'fulfilled' ? me.value : null
  if (me.status === 'rejected' && me.reason.status !== 401) showError(me.reason)
  state.plant = plant.status === 'fulfilled' ? plant.value : null
}

$('lang').addEventListener('click', () => {
  state.lang = state.lang === 'zh' ? 'en' : 'zh'
  localStorage.setItem('pw.lang', state.lang)
  route()
})
window.addEventListener('hashchange', route)
start().then(route)
