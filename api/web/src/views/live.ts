import type uPlot from 'uplot'
import type { Carbon, Cost, CostRow, Energy, Live, LiveDevice, Series } from '../answers.ts'
import { api, failBox, showError } from '../api.ts'
import { chart } from '../chart.ts'
import { $, el } from '../dom.ts'
import { fmt, formatAge, localDate } from '../format.ts'
import { locale, t } from '../i18n.ts'
import { allLines, kpi, type LineOfPlant } from '../plant.ts'
import { can, every, state } from '../state.ts'
import { rowsTable } from '../table.ts'

// The live line (#/live?line=enterprise/site/line): devices' newest values every second, line power
// over the last hour, and today's energy, cost and CO2 every minute.

/** Columns of the device table after name, status and age: the quantities shown together, and their decimals. */
const LIVE_COLUMNS: readonly (readonly [names: readonly string[], digits: number])[] = [
  [['active_power_kw'], 1],
  [['reactive_power_kvar'], 1],
  [['energy_import_kwh'], 1],
  [['voltage_l1_v', 'voltage_l2_v', 'voltage_l3_v'], 1],
  [['current_l1_a', 'current_l2_a', 'current_l3_a'], 1],
  [['power_factor'], 3],
  [['frequency_hz'], 2],
]

const MACHINE_STATES = ['stopped', 'idle', 'running', 'fault'] as const

/** A device row: the live answer, or the plant model's device without values yet. */
type DeviceRow = Omit<LiveDevice, 'ageMs'> & { ageMs: number | null }

const keyOf = (d: DeviceRow): string => `${d.enterprise}/${d.site}/${d.line}/${d.device}`

function valueCell(d: DeviceRow, names: readonly string[], digits: number): HTMLTableCellElement {
  const td = el('td', { class: 'num' })
  names.forEach((q, i) => {
    if (i > 0) td.append(' / ')
    const v = d.values[q]
    const quality = d.quality[q]
    td.append(el('span', quality ? { class: `q-${quality}`, title: t(quality) } : {}, v === undefined ? '—' : v.toFixed(digits)))
  })
  return td
}

interface PeriodCost {
  period: string
  energyKwh: number
  pricePerKwh: number | null
  cost: number
}

/** Cost rows of one bucket summed by tariff period (two tariffs on one line would give two rows of a period). */
function costByPeriod(rows: readonly CostRow[]): PeriodCost[] {
  const by = new Map<string, PeriodCost>()
  for (const r of rows) {
    const p = by.get(r.period) ?? { period: r.period, energyKwh: 0, pricePerKwh: r.pricePerKwh, cost: 0 }
    p.energyKwh += r.energyKwh
    p.cost += r.cost
    if (p.pricePerKwh !== r.pricePerKwh) p.pricePerKwh = null
    by.set(r.period, p)
  }
  return [...by.values()]
}

type PlantDevice = LineOfPlant['devices'][number]

/** The line's power over the last hour: the points drawn, and the chart once it exists. */
interface PowerChart {
  xs: number[]
  ys: number[]
  plot: uPlot | undefined
  lastTs: number
}

function lineSelect(lines: readonly LineOfPlant[], path: string): HTMLSelectElement {
  const select = el(
    'select',
    { id: 'line-select' },
    lines.map((l) => el('option', { value: l.path, selected: l.path === path }, `${l.enterprise.name} / ${l.name}`)),
  )
  select.addEventListener('change', () => {
    location.hash = `#/live?line=${select.value}`
  })
  return select
}

/** The device table, with a loading row until the first values. */
function deviceTable(): HTMLDivElement {
  return el(
    'div',
    { class: 'scroll' },
    el(
      'table',
      {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          [
            t('device'),
            t('status'),
            t('age'),
            t('activePower'),
            t('reactivePower'),
            t('energyImport'),
            t('voltage'),
            t('current'),
            t('powerFactor'),
            t('frequency'),
          ].map((h) => el('th', {}, h)),
        ),
      ),
      el('tbody', { id: 'rows' }, el('tr', {}, el('td', { class: 'empty', colspan: '10' }, t('loading')))),
    ),
  )
}

function renderLayout(main: HTMLElement, select: HTMLSelectElement, chartBox: HTMLDivElement): void {
  main.replaceChildren(
    el(
      'div',
      { class: 'toolbar' },
      el('label', {}, `${t('line')} `, select),
      el('span', { class: 'path' }, `${t('updated')}: `, el('span', { id: 'updated' }, '—')),
    ),
    el('div', { class: 'kpis' }, kpi('kpi-power', 'powerNow'), kpi('kpi-energy', 'energyToday'), kpi('kpi-cost', 'costToday'), kpi('kpi-co2', 'co2Today')),
    el('div', { class: 'panel' }, el('h2', {}, t('linePower')), chartBox),
    el('h2', {}, t('devices')),
    deviceTable(),
    el('h2', {}, t('machines')),
    el('div', { id: 'machines' }),
    el('h2', {}, t('costByPeriod')),
    el('div', { id: 'cost-table' }),
  )
}

function renderDeviceRows(rows: readonly DeviceRow[]): void {
  $('rows').replaceChildren(
    ...(rows.length
      ? rows.map((d) =>
          el(
            'tr',
            {},
            el('td', {}, d.name || d.device, el('div', { class: 'path' }, keyOf(d))),
            el('td', {}, el('span', { class: `badge ${d.online ? 'on' : 'off'}` }, t(d.online ? 'online' : 'offline'))),
            el('td', { class: 'num' }, formatAge(d.ageMs)),
            ...LIVE_COLUMNS.map(([names, digits]) => valueCell(d, names, digits)),
          ),
        )
      : [el('tr', {}, el('td', { class: 'empty', colspan: '10' }, t('noDevices')))]),
  )
}

function renderMachines(machineDevices: readonly PlantDevice[], byId: ReadonlyMap<string, LiveDevice>): void {
  $('machines').replaceChildren(
    machineDevices.length === 0
      ? el('p', { class: 'empty' }, t('none'))
      : el(
          'div',
          { class: 'kpis' },
          machineDevices.map((m) => {
            const d = byId.get(m.id)
            const s = d?.values.machine_state
            const cls = s === undefined ? 'off' : (MACHINE_STATES[s] ?? 'off')
            return el(
              'div',
              { class: 'kpi machine', 'data-device': m.id },
              el('div', { class: 'label' }, m.name),
              el('span', { class: `badge ${cls}` }, s === undefined ? t('noData') : t(`state.${s}`)),
              el('div', { class: 'sub' }, d ? `${fmt(d.values.active_power_kw)} kW` : ''),
            )
          }),
        ),
  )
}

/** The sum of the power devices' active power, or null when none has a value. */
function linePower(powerDevices: readonly string[], byId: ReadonlyMap<string, LiveDevice>): number | null {
  let power = 0
  let seen = false
  for (const id of powerDevices) {
    const v = byId.get(id)?.values.active_power_kw
    if (typeof v === 'number') {
      power += v
      seen = true
    }
  }
  return seen ? power : null
}

/** One point a second at most, keeping the last hour. */
function pushPower(power: PowerChart, ts: number, value: number): void {
  if (!power.plot || ts - power.lastTs < 1000) return
  power.lastTs = ts
  power.xs.push(ts / 1000)
  power.ys.push(value)
  while (power.xs.length && power.xs[0]! < ts / 1000 - 3600) {
    power.xs.shift()
    power.ys.shift()
  }
  power.plot.setData([power.xs, power.ys])
}

async function refreshToday(path: string, tz: string, epoch: number): Promise<void> {
  if (!can('reports')) {
    for (const id of ['kpi-energy', 'kpi-cost', 'kpi-co2']) $(id).textContent = '—'
    $('cost-table').replaceChildren(el('p', { class: 'empty' }, t('forbidden')))
    return
  }
  const q = `scope=${path}&start=${localDate(Date.now(), tz)}&stop=${Date.now()}&granularity=total`
  const [energy, cost, carbon] = await Promise.allSettled([api<Energy>(`energy?${q}`), api<Cost>(`cost?${q}`), api<Carbon>(`carbon?${q}`)])
  if (epoch !== state.epoch) return
  if (energy.status === 'fulfilled') $('kpi-energy').textContent = `${fmt(energy.value.energyKwh)} kWh`
  if (cost.status === 'fulfilled') {
    const c = cost.value
    $('kpi-cost').textContent = `¥ ${fmt(c.totalCost, 2)}`
    $('kpi-cost-sub').textContent = c.tariffs.map((x) => x.id).join(', ')
    $('cost-table').replaceChildren(
      rowsTable(costByPeriod(c.rows), [['period', 'badge'], ['energyKwh'], ['pricePerKwh', 'num3'], ['cost', 'num2']], { id: 'cost-periods' }),
    )
  } else $('cost-table').replaceChildren(failBox(cost.reason))
  if (carbon.status === 'fulfilled') {
    const c = carbon.value
    $('kpi-co2').textContent = `${fmt(c.kgCo2)} kg`
    const f = c.factors[0]
    if (f) $('kpi-co2-sub').textContent = `${f.region} ${f.year}: ${f.kgCo2PerKwh} kg/kWh`
  }
}

/** The hour's line power in minute means, summed over the power devices, oldest first. */
async function powerHistory(path: string, powerDevices: readonly string[]): Promise<[number, number][]> {
  const now = Date.now()
  const series = await Promise.all(
    powerDevices.map((id) =>
      api<Series>(`series?device=${path}/${id}&quantity=active_power_kw&start=${now - 3_600_000}&stop=${now}&every=1m&fn=mean`).catch(
        (): Series => ({ points: [] }),
      ),
    ),
  )
  const sum = new Map<number, number>()
  for (const s of series) for (const p of s.points) sum.set(p.ts, (sum.get(p.ts) || 0) + p.value)
  return [...sum.entries()].sort((a, b) => a[0] - b[0])
}

export async function liveView(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const lines = allLines()
  const path = params.get('line') || lines[0]?.path || ''
  const line = lines.find((l) => l.path === path)
  const [enterprise = '', site = '', lineId = ''] = path.split('/')
  const tz = line?.site.timezone || state.plant?.timezone || 'Asia/Shanghai'
  const select = lineSelect(lines, path)
  const chartBox = el('div', { class: 'chart', id: 'power-chart' })
  renderLayout(main, select, chartBox)
  if (!line) return
  const epoch = state.epoch
  const meters = line.devices.filter((d) => d.kind === 'meter')
  const machineDevices = line.devices.filter((d) => d.kind === 'machine')
  // Line power = the main meter; without one, the sum of the meters.
  const powerDevices = line.mainMeter ? [line.mainMeter] : meters.map((d) => d.id)
  const query = `enterprise=${enterprise}&site=${site}&line=${lineId}`
  const power: PowerChart = { xs: [], ys: [], plot: undefined, lastTs: 0 }

  async function refreshLive(): Promise<void> {
    try {
      const live = await api<Live>(`live?${query}`)
      if (epoch !== state.epoch) return
      const byId = new Map(live.devices.map((d) => [d.device, d]))
      const rows = line!.devices
        .filter((m) => m.kind !== 'machine' || byId.has(m.id))
        .map(
          (m): DeviceRow =>
            byId.get(m.id) ?? { enterprise, site, line: lineId, device: m.id, name: m.name, online: false, ageMs: null, values: {}, quality: {} },
        )
      renderDeviceRows(rows)
      renderMachines(machineDevices, byId)
      const kw = linePower(powerDevices, byId)
      $('kpi-power').textContent = kw !== null ? `${fmt(kw)} kW` : '—'
      $('updated').textContent = new Date(live.ts).toLocaleTimeString(locale())
      if (kw !== null) pushPower(power, live.ts, kw)
      showError(null)
    } catch (err) {
      showError(err)
    }
  }

  await refreshLive()
  every(1000, () => void refreshLive())
  refreshToday(path, tz, epoch).catch(showError)
  every(60_000, () => refreshToday(path, tz, epoch).catch(showError))
  // The chart after the first values: the hour's history in minute means, then one point a second from /live.
  const history = await powerHistory(path, powerDevices)
  if (epoch !== state.epoch) return
  power.xs.unshift(...history.map(([ts]) => ts / 1000))
  power.ys.unshift(...history.map(([, v]) => v))
  power.plot = await chart(chartBox, [{ label: 'kW', values: power.ys }], { x: power.xs })
}
