// PlantWatt web UI: plain ES module, no build step, no framework. Served by the API at /ui/app.js.
// Views: live line (#/live), energy & efficiency (#/energy), alerts (#/alerts), province (#/province).
// Chinese by default, English by the switch in the header; the choice is kept in localStorage.

const API = '/api/v1'

const DICT = {
  zh: {
    'nav.live': '实时', 'nav.energy': '能效', 'nav.alerts': '告警', 'nav.province': '全省', 'nav.docs': 'API 文档',
    loading: '加载中…', none: '暂无数据', noDevices: '暂无设备', connection: '连接失败', updated: '更新',
    line: '产线', scope: '范围', granularity: '粒度', from: '从', to: '至', apply: '查询', exportCsv: '导出 CSV',
    hour: '小时', shift: '班次', day: '日', month: '月',
    powerNow: '当前功率', energyToday: '今日电量', costToday: '今日电费', co2Today: '今日碳排放',
    linePower: '产线功率（近 1 小时）', devices: '设备', machines: '设备状态', costByPeriod: '分时电费',
    device: '设备', status: '状态', age: '数据时延', activePower: '有功功率 kW', reactivePower: '无功功率 kvar',
    energyImport: '正向电能 kWh', voltage: '电压 L1/L2/L3 V', current: '电流 L1/L2/L3 A', powerFactor: '功率因数', frequency: '频率 Hz',
    online: '在线', offline: '离线', uncertain: '不确定', bad: '无效',
    'state.0': '停机', 'state.1': '待机', 'state.2': '运行', 'state.3': '故障',
    energyCostCo2: '电量、电费与碳排放', sec: '单位产品能耗（对标国家标杆 / 基准水平）', savings: '基线与节能量（CUSUM）',
    openAlerts: '未关闭告警', alertHistory: '告警历史', ack: '确认', resolve: '关闭', comment: '备注', acked: '已确认',
    progress: '智能工厂 / 数字化车间建设进度（目标 100 家）', enterprises: '企业列表', back: '返回',
    smartFactories: '智能工厂', digitalWorkshops: '数字化车间', target: '目标',
    login: '登录', username: '用户名', password: '密码', logout: '退出', signedInAs: '当前用户',
    forbidden: '当前角色无权查看此页', notAvailable: '此功能尚未启用',
    benchmark: '标杆', compliant: '达标', below_baseline: '未达基准',
    firing: '告警中', acknowledged: '已确认', resolved: '已恢复', critical: '严重', warning: '警告', info: '提示',
  },
  en: {
    'nav.live': 'Live', 'nav.energy': 'Energy', 'nav.alerts': 'Alerts', 'nav.province': 'Province', 'nav.docs': 'API docs',
    loading: 'Loading…', none: 'No data', noDevices: 'No devices yet', connection: 'Connection problem', updated: 'Updated',
    line: 'Line', scope: 'Scope', granularity: 'Granularity', from: 'From', to: 'To', apply: 'Show', exportCsv: 'Export CSV',
    hour: 'Hour', shift: 'Shift', day: 'Day', month: 'Month',
    powerNow: 'Power now', energyToday: 'Energy today', costToday: 'Cost today', co2Today: 'CO₂ today',
    linePower: 'Line power (last hour)', devices: 'Devices', machines: 'Machine states', costByPeriod: 'Cost by tariff period',
    device: 'Device', status: 'Status', age: 'Age', activePower: 'Active power kW', reactivePower: 'Reactive kvar',
    energyImport: 'Energy import kWh', voltage: 'Voltage L1/L2/L3 V', current: 'Current L1/L2/L3 A', powerFactor: 'Power factor', frequency: 'Frequency Hz',
    online: 'online', offline: 'offline', uncertain: 'uncertain', bad: 'bad',
    'state.0': 'stopped', 'state.1': 'idle', 'state.2': 'running', 'state.3': 'fault',
    energyCostCo2: 'Energy, cost and CO₂', sec: 'Specific energy vs national benchmark / baseline', savings: 'Baseline vs actual, savings CUSUM',
    openAlerts: 'Open alerts', alertHistory: 'Alert history', ack: 'Acknowledge', resolve: 'Resolve', comment: 'Comment', acked: 'Acknowledged',
    progress: 'Smart factories / digital workshops: progress to the target of 100', enterprises: 'Enterprises', back: 'Back',
    smartFactories: 'Smart factories', digitalWorkshops: 'Digital workshops', target: 'Target',
    login: 'Sign in', username: 'User name', password: 'Password', logout: 'Sign out', signedInAs: 'Signed in as',
    forbidden: 'Your role may not see this page', notAvailable: 'Not enabled on this server',
    benchmark: 'benchmark', compliant: 'compliant', below_baseline: 'below baseline',
    firing: 'firing', acknowledged: 'acknowledged', resolved: 'resolved', critical: 'critical', warning: 'warning', info: 'info',
  },
}

const state = {
  lang: localStorage.getItem('pw.lang') === 'en' ? 'en' : 'zh',
  token: sessionStorage.getItem('pw.token') || '',
  me: null,
  plant: null,
  timers: [],
  charts: [],
}

const t = (key) => DICT[state.lang][key] ?? DICT.zh[key] ?? key
const $ = (id) => document.getElementById(id)
const keyOf = (d) => `${d.enterprise}/${d.site}/${d.line}/${d.device}`

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
  const res = await fetch(path.startsWith('/') ? path : `${API}/${path}`, { method: opts.method || 'GET', headers, body: opts.body ? JSON.stringify(opts.body) : undefined })
  const body = await res.json().catch(() => null)
  if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText)
  return body
}

function showError(err) {
  $('error').textContent = err ? `${t('connection')}: ${err.message}` : ''
}

function fmt(v, digits = 1) {
  if (v === undefined || v === null || Number.isNaN(v)) return '—'
  if (typeof v !== 'number') return String(v)
  const abs = Math.abs(v)
  const d = abs >= 1000 ? 0 : digits
  return v.toLocaleString(state.lang === 'zh' ? 'zh-CN' : 'en-GB', { minimumFractionDigits: d, maximumFractionDigits: d })
}

function formatAge(ms) {
  if (ms == null) return '—'
  if (ms < 1000) return `${ms} ms`
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`
  return `${Math.round(ms / 3600000)} h`
}

const isTime = (k, v) => typeof v === 'number' && v > 1e12 && /^(start|end|stop|ts|at|time|since|firedAt|lastSeen|ackedAt|resolvedAt)$|At$/.test(k)
const BADGE_KEYS = new Set(['grade', 'state', 'severity', 'status'])

/** A table of an API answer's `rows`: headers from the keys, numbers formatted, grades and states as badges. */
function rowsTable(rows, opts = {}) {
  if (!rows || rows.length === 0) return el('p', { class: 'empty' }, t('none'))
  const cols = opts.columns || [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((c) => !(opts.hide || []).includes(c))
  let sorted = rows
  const table = el('table')
  const head = el('tr', {}, cols.map((c) => el('th', { class: `${opts.sortable ? 'sortable' : ''} ${typeof rows[0][c] === 'string' ? 'text' : ''}`, 'data-col': c, onclick: opts.sortable ? () => sortBy(c) : undefined }, t(c))))
  const body = el('tbody')
  let dir = 1
  let by = ''
  function cell(c, v, row) {
    if (opts.cell && opts.cell[c]) return opts.cell[c](v, row)
    if (BADGE_KEYS.has(c) && typeof v === 'string') return el('td', { class: 'text' }, el('span', { class: `badge ${v}` }, t(v)))
    if (isTime(c, v)) return el('td', { class: 'num' }, new Date(v).toLocaleString(state.lang === 'zh' ? 'zh-CN' : 'en-GB'))
    if (typeof v === 'number') return el('td', { class: 'num' }, fmt(v, /rate|coverage|share/i.test(c) ? 3 : 2))
    if (typeof v === 'boolean') return el('td', {}, v ? '✓' : '—')
    return el('td', { class: 'text' }, v ?? '—')
  }
  function fill() {
    body.replaceChildren(...sorted.map((r) => el('tr', opts.rowAttrs ? opts.rowAttrs(r) : {}, cols.map((c) => cell(c, r[c], r)), opts.actions ? el('td', {}, opts.actions(r)) : null)))
  }
  function sortBy(c) {
    dir = by === c ? -dir : 1
    by = c
    sorted = [...rows].sort((a, b) => (a[c] === b[c] ? 0 : a[c] === null || a[c] === undefined ? 1 : b[c] === null || b[c] === undefined ? -1 : a[c] < b[c] ? -dir : dir))
    fill()
  }
  if (opts.actions) head.append(el('th'))
  table.append(el('thead', {}, head), body)
  fill()
  return el('div', { class: 'scroll' }, table)
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

async function chart(container, series, opts = {}) {
  const UPlot = await loadUplot()
  const width = Math.max(300, container.clientWidth - 12)
  const plot = new UPlot(
    {
      width,
      height: opts.height || 240,
      scales: { x: { time: opts.time !== false } },
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: ['#2456c5', '#1f8a4c', '#b76e00', '#b42318'][i % 4], width: 2, ...(opts.bars ? { paths: UPlot.paths.bars({ size: [0.6] }), fill: '#2456c555' } : {}) }))],
    },
    [opts.x, ...series.map((s) => s.values)],
    container,
  )
  state.charts.push(plot)
  return plot
}

/** YYYY-MM-DD of an instant in the plant's zone (the API reads a bare date as local midnight there). */
function localDate(ts, tz) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ts))
}
const todayLocal = (tz) => localDate(Date.now(), tz)

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
      opts.push(el('option', { value: `${e.id}/${s.id}`, selected: selected === `${e.id}/${s.id}` }, `  ${e.name} / ${s.name}`))
      for (const l of s.lines) opts.push(el('option', { value: l.path, selected: selected === l.path }, `    ${s.name} / ${l.name}`))
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

function sumOf(rows, ...keys) {
  let total = 0
  for (const r of rows || []) for (const k of keys) if (typeof r[k] === 'number') { total += r[k]; break }
  return total
}

function firstNumber(obj, keys) {
  for (const k of keys) {
    const v = k.split('.').reduce((o, p) => (o == null ? undefined : o[p]), obj)
    if (typeof v === 'number') return v
  }
  return undefined
}

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
    const v = d.values ? d.values[q] : undefined
    const quality = d.quality ? d.quality[q] : undefined
    td.append(el('span', quality ? { class: `q-${quality}`, title: t(quality) } : {}, v === undefined ? '—' : v.toFixed(digits)))
  })
  return td
}

async function liveView(main, params) {
  const lines = allLines()
  const path = params.get('line') || lines[0]?.path || ''
  const line = lines.find((l) => l.path === path)
  const [enterprise, site, lineId] = path.split('/')
  const tz = line?.site.timezone || state.plant?.timezone || 'Asia/Shanghai'
  const select = el('select', { id: 'line-select', onchange: (e) => { location.hash = `#/live?line=${e.target.value}` } }, lines.map((l) => el('option', { value: l.path, selected: l.path === path }, `${l.enterprise.name} / ${l.name}`)))
  const k = (id, label) => el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value', id }, '—'), el('div', { class: 'sub', id: `${id}-sub` }))
  const chartBox = el('div', { class: 'chart', id: 'power-chart' })
  main.replaceChildren(
    el('div', { class: 'toolbar' }, el('label', {}, `${t('line')} `, select), el('span', { class: 'path' }, `${t('updated')}: `, el('span', { id: 'updated' }, '—'))),
    el('div', { class: 'kpis' }, k('kpi-power', 'powerNow'), k('kpi-energy', 'energyToday'), k('kpi-cost', 'costToday'), k('kpi-co2', 'co2Today')),
    el('div', { class: 'panel' }, el('h2', {}, t('linePower')), chartBox),
    el('h2', {}, t('devices')),
    el('div', { class: 'scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, [t('device'), t('status'), t('age'), t('activePower'), t('reactivePower'), t('energyImport'), t('voltage'), t('current'), t('powerFactor'), t('frequency')].map((h) => el('th', {}, h)))),
      el('tbody', { id: 'rows' }, el('tr', {}, el('td', { class: 'empty', colspan: '10' }, t('loading')))))),
    el('h2', {}, t('machines')), el('div', { id: 'machines' }),
    el('h2', {}, t('costByPeriod')), el('div', { id: 'cost-table' }),
  )
  if (!line) return
  const energyDevices = line.mainMeter ? [line.mainMeter] : line.devices.filter((d) => d.kind === 'meter').map((d) => d.id)
  const query = `enterprise=${enterprise}&site=${site}&line=${lineId}`
  const xs = []
  const ys = []
  let plot
  let lastTs = 0

  async function refreshLive() {
    try {
      const live = await api(`live?${query}`)
      const byId = new Map(live.devices.map((d) => [d.device, d]))
      const rows = line.devices.map((m) => ({ enterprise, site, line: lineId, device: m.id, name: m.name, kind: m.kind, online: false, ageMs: null, values: {}, quality: {}, ...byId.get(m.id) }))
      $('rows').replaceChildren(...(rows.length ? rows.map((d) => el('tr', {},
        el('td', {}, d.name || d.device, el('div', { class: 'path' }, keyOf(d))),
        el('td', {}, el('span', { class: `badge ${d.online ? 'on' : 'off'}` }, t(d.online ? 'online' : 'offline'))),
        el('td', { class: 'num' }, formatAge(d.ageMs)),
        ...LIVE_COLUMNS.map(([names, digits]) => valueCell(d, names, digits)),
      )) : [el('tr', {}, el('td', { class: 'empty', colspan: '10' }, t('noDevices')))]))
      const machines = rows.filter((d) => d.kind === 'machine' || d.values.machine_state !== undefined)
      $('machines').replaceChildren(machines.length === 0 ? el('p', { class: 'empty' }, t('none')) : el('div', { class: 'kpis' }, machines.map((m) => {
        const s = m.values.machine_state
        const cls = ['off', 'idle', 'running', 'fault'][s] || 'off'
        return el('div', { class: 'kpi' }, el('div', { class: 'label' }, m.name), el('span', { class: `badge ${cls}` }, s === undefined ? '—' : t(`state.${s}`)), el('div', { class: 'sub' }, `${fmt(m.values.active_power_kw)} kW`))
      })))
      let power = 0
      let seen = false
      for (const id of energyDevices) {
        const v = byId.get(id)?.values?.active_power_kw
        if (typeof v === 'number') { power += v; seen = true }
      }
      $('kpi-power').textContent = seen ? `${fmt(power)} kW` : '—'
      $('updated').textContent = new Date(live.ts).toLocaleTimeString()
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
    const q = `scope=${path}&start=${todayLocal(tz)}&stop=${Date.now()}`
    const [energy, cost, carbon] = await Promise.allSettled([api(`energy?${q}&granularity=total`), api(`cost?${q}`), api(`carbon?${q}`)])
    if (energy.status === 'fulfilled') $('kpi-energy').textContent = `${fmt(energy.value.energyKwh)} kWh`
    if (cost.status === 'fulfilled') {
      const c = cost.value
      const total = firstNumber(c, ['totalYuan', 'costYuan', 'total.costYuan', 'total.yuan', 'cost']) ?? sumOf(c.rows, 'costYuan', 'yuan', 'cost')
      $('kpi-cost').textContent = `¥ ${fmt(total, 2)}`
      $('kpi-cost-sub').textContent = c.tariff?.id ?? c.tariffId ?? ''
      $('cost-table').replaceChildren(rowsTable(c.rows, { hide: ['scope', 'start', 'end'] }))
    } else {
      $('cost-table').replaceChildren(el('p', { class: 'empty' }, cost.reason.message))
    }
    if (carbon.status === 'fulfilled') {
      const kg = firstNumber(carbon.value, ['kgCo2', 'co2Kg', 'total.kgCo2']) ?? sumOf(carbon.value.rows, 'kgCo2', 'co2Kg')
      $('kpi-co2').textContent = `${fmt(kg)} kg`
      const f = carbon.value.factor
      if (f) $('kpi-co2-sub').textContent = `${f.region ?? ''} ${f.year ?? ''} ${f.value ?? ''}`
    }
  }

  await refreshLive()
  every(1000, refreshLive)
  refreshToday().catch(showError)
  every(60_000, () => refreshToday().catch(showError))
  // The chart after the first values: history of the hour, then one point a second from /live.
  const now = Date.now()
  const series = await Promise.all(energyDevices.map((id) => api(`series?device=${path}/${id}&quantity=active_power_kw&start=${now - 3_600_000}&stop=${now}&every=1m&fn=mean`).catch(() => ({ points: [] }))))
  const sum = new Map()
  for (const s of series) for (const p of s.points) sum.set(p.ts, (sum.get(p.ts) || 0) + p.value)
  for (const [ts, v] of [...sum.entries()].sort((a, b) => a[0] - b[0])) { xs.push(ts / 1000); ys.push(v) }
  if (document.body.contains(chartBox)) plot = await chart(chartBox, [{ label: 'kW', values: ys }], { x: xs })
}

// ---------------------------------------------------------------- energy & efficiency view

async function energyView(main, params) {
  const lines = allLines()
  const scope = params.get('scope') || lines[0]?.path || state.plant?.enterprises[0]?.id || ''
  const gran = params.get('granularity') || 'day'
  const tz = state.plant?.timezone || 'Asia/Shanghai'
  const today = todayLocal(tz)
  const monthAgo = localDate(Date.now() - 30 * 86_400_000, tz)
  const start = params.get('start') || monthAgo
  const stop = params.get('stop') || today
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
      el('button', { class: 'primary', onclick: go }, t('apply'))),
    el('h2', {}, t('energyCostCo2')), el('div', { class: 'panel' }, el('div', { class: 'chart', id: 'energy-chart' })), el('div', { id: 'energy-table' }),
    el('h2', {}, t('sec')), el('div', { id: 'sec-table' }),
    el('h2', {}, t('savings')), el('div', { class: 'panel' }, el('div', { class: 'chart', id: 'savings-chart' })), el('div', { id: 'savings-table' }),
  )
  const q = `scope=${scope}&start=${start}&stop=${stop}`
  const [energy, cost, carbon, sec, savings] = await Promise.allSettled([
    api(`energy?${q}&granularity=${gran}`), api(`cost?${q}&granularity=${gran}`), api(`carbon?${q}&granularity=${gran}`), api(`sec?${q}`), api(`savings?${q}`),
  ])
  const fail = (id, r) => $(id).replaceChildren(el('p', { class: 'empty' }, r.reason?.status === 403 ? t('forbidden') : r.reason?.message ?? t('none')))
  if (energy.status === 'fulfilled') {
    // One table by bucket: energy, and where the cost and carbon answers have the same buckets, those too.
    const byBucket = new Map(energy.value.rows.map((r) => [r.bucket, { bucket: r.bucket, energyKwh: r.energyKwh, coverage: r.coverage }]))
    if (cost.status === 'fulfilled') for (const r of cost.value.rows ?? []) if (r.bucket && byBucket.has(r.bucket)) byBucket.get(r.bucket).costYuan = firstNumber(r, ['costYuan', 'yuan', 'cost'])
    if (carbon.status === 'fulfilled') for (const r of carbon.value.rows ?? []) if (r.bucket && byBucket.has(r.bucket)) byBucket.get(r.bucket).kgCo2 = firstNumber(r, ['kgCo2', 'co2Kg'])
    const rows = [...byBucket.values()]
    $('energy-table').replaceChildren(rowsTable(rows))
    if (rows.length) chart($('energy-chart'), [{ label: 'kWh', values: rows.map((r) => r.energyKwh) }], { x: rows.map((_, i) => i), time: false, bars: true }).catch(showError)
  } else fail('energy-table', energy)
  if (sec.status === 'fulfilled') $('sec-table').replaceChildren(rowsTable(sec.value.rows))
  else fail('sec-table', sec)
  if (savings.status === 'fulfilled') {
    const rows = savings.value.rows ?? []
    $('savings-table').replaceChildren(rowsTable(rows))
    if (rows.length) chart($('savings-chart'), [{ label: 'actual', values: rows.map((r) => r.actual ?? r.actualKwh) }, { label: 'predicted', values: rows.map((r) => r.predicted ?? r.predictedKwh) }, { label: 'CUSUM', values: rows.map((r) => r.cusum ?? r.cusumKwh) }], { x: rows.map((_, i) => i), time: false }).catch(showError)
  } else fail('savings-table', savings)
}

// ---------------------------------------------------------------- alerts view

async function alertsView(main) {
  main.replaceChildren(el('h2', {}, t('openAlerts')), el('div', { id: 'open-alerts' }, t('loading')), el('h2', {}, t('alertHistory')), el('div', { id: 'alert-history' }))
  const canAck = state.me && state.me.role !== 'commission'
  async function refresh() {
    try {
      const [open, history] = await Promise.all([api('alerts?state=firing,acknowledged'), api('alerts?state=resolved&limit=50')])
      $('open-alerts').replaceChildren(rowsTable(open.rows, {
        rowAttrs: (r) => ({ 'data-alert': r.id }),
        actions: (r) => (canAck && r.state === 'firing' ? ackForm(r) : null),
      }))
      $('alert-history').replaceChildren(rowsTable(history.rows))
      showError(null)
    } catch (err) {
      $('open-alerts').replaceChildren(el('p', { class: 'empty' }, err.status === 403 ? t('forbidden') : err.message))
    }
  }
  function ackForm(r) {
    const input = el('input', { placeholder: t('comment'), 'aria-label': t('comment'), class: 'ack-comment' })
    return el('span', {}, input, ' ', el('button', {
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
  every(5000, refresh)
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
  URL.revokeObjectURL(url)
}

async function provinceView(main, parts) {
  if (parts[1]) return enterpriseView(main, parts[1])
  main.replaceChildren(el('h2', {}, t('progress')), el('div', { id: 'progress' }, t('loading')),
    el('div', { class: 'toolbar' }, el('h2', {}, t('enterprises')), el('button', { id: 'export', onclick: () => downloadCsv('commission/enterprises', 'enterprises.csv').catch(showError) }, t('exportCsv'))),
    el('div', { id: 'enterprises' }))
  const [overview, list] = await Promise.allSettled([api('commission/overview'), api('commission/enterprises')])
  if (overview.status === 'fulfilled') {
    const o = overview.value
    const target = o.target ?? 100
    const bar = (label, n) => el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value' }, `${n ?? 0} / ${target}`), el('div', { class: 'progress' }, el('div', { style: `width:${Math.min(100, ((n ?? 0) / target) * 100)}%` })))
    $('progress').replaceChildren(el('div', { class: 'kpis' }, bar('smartFactories', firstNumber(o, ['smartFactories', 'counts.smartFactory', 'qualified.smartFactory'])), bar('digitalWorkshops', firstNumber(o, ['digitalWorkshops', 'counts.digitalWorkshop', 'qualified.digitalWorkshop']))))
  } else $('progress').replaceChildren(el('p', { class: 'empty' }, overview.reason.status === 403 ? t('forbidden') : overview.reason.message))
  if (list.status === 'fulfilled') {
    $('enterprises').replaceChildren(rowsTable(list.value.rows, {
      sortable: true,
      cell: { enterprise: (v) => el('td', { class: 'text' }, el('a', { href: `#/province/${v}` }, v)) },
    }))
  } else $('enterprises').replaceChildren(el('p', { class: 'empty' }, list.reason.message))
}

async function enterpriseView(main, id) {
  main.replaceChildren(el('a', { href: '#/province' }, `← ${t('back')}`), el('div', { id: 'enterprise' }, t('loading')))
  try {
    const e = await api(`commission/enterprises/${encodeURIComponent(id)}`)
    const parts = [el('h2', {}, e.name ?? id)]
    const scalars = Object.entries(e).filter(([, v]) => v === null || typeof v !== 'object')
    parts.push(rowsTable([Object.fromEntries(scalars)]))
    for (const [k, v] of Object.entries(e)) if (Array.isArray(v) && v.length && typeof v[0] === 'object') parts.push(el('h2', {}, t(k)), rowsTable(v.map((r) => Object.fromEntries(Object.entries(r).filter(([, x]) => x === null || typeof x !== 'object')))))
    $('enterprise').replaceChildren(...parts)
  } catch (err) {
    $('enterprise').replaceChildren(el('p', { class: 'empty' }, err.message))
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
      location.hash = '#/live'
    } catch (err) {
      msg.textContent = err.message
    }
  }
  main.replaceChildren(el('form', { class: 'login', onsubmit: submit }, el('h2', {}, t('login')), el('label', {}, t('username'), user), el('label', {}, t('password'), pass), el('button', { class: 'primary', type: 'submit' }, t('login')), msg))
}

function renderShell() {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en'
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.getAttribute('data-i18n'))
  $('lang').textContent = state.lang === 'zh' ? 'EN' : '中文'
  const me = state.me
  const box = $('user')
  box.replaceChildren()
  if (me && me.id !== 'anonymous') box.append(`${t('signedInAs')}: ${me.id} (${me.role}${me.enterprise ? ` · ${me.enterprise}` : ''}) `, el('button', { id: 'logout', onclick: logout }, t('logout')))
  const province = document.querySelector('[data-view="province"]')
  if (province) province.hidden = !!(me && me.enterprise)
}

function logout() {
  state.token = ''
  state.me = null
  sessionStorage.removeItem('pw.token')
  location.hash = '#/login'
  route()
}

async function route() {
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
  if (me.status === 'fulfilled') state.me = me.value
  else {
    // No auth route: an older server, everyone is the anonymous admin. 401: sign in.
    const err = me.reason
    state.me = err.status === 404 ? { id: 'anonymous', role: 'admin' } : null
    if (err.status !== 401 && err.status !== 404) showError(err)
  }
  state.plant = plant.status === 'fulfilled' ? plant.value : state.me ? await api('plant').catch(() => ({ timezone: 'Asia/Shanghai', enterprises: [] })) : null
}

$('lang').addEventListener('click', () => {
  state.lang = state.lang === 'zh' ? 'en' : 'zh'
  localStorage.setItem('pw.lang', state.lang)
  route()
})
window.addEventListener('hashchange', route)
start().then(route)
