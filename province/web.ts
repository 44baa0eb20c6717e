/**
 * The province service's own web page: progress, rates, city roll-ups, who is behind, enterprises and
 * a drill-down, read from the commission API, with links to the CSV and XLSX exports. Plain DOM, text only (no innerHTML of uploaded data).
 */
export const PAGE_HTML = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Province · 省级平台</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}td:first-child,th:first-child{text-align:left}.note{color:#666;font-size:12px}.bad{color:#b00}</style>
</head><body>
<h1 id="title">Province · 省级平台</h1>
<p><label>Month / 月份 <input id="month" placeholder="YYYY-MM"></label> <a id="csv" href="#">CSV</a> · <a id="xlsx" href="#">XLSX workbook / 工作簿</a></p>
<section id="summary"></section>
<h2>Cities · 市州</h2><table id="cities"></table>
<h2>Behind · 数据落后企业</h2><table id="behind"></table>
<h2>Enterprises · 企业</h2><table id="enterprises"></table>
<h2 id="drill-title"></h2><p><a id="drill-xlsx" hidden href="#">XLSX</a></p><table id="drill"></table>
<script src="/app.js"></script></body></html>`

export const PAGE_SCRIPT = `const $ = (id) => document.getElementById(id)
const pct = (v) => (v === null || v === undefined ? '—' : (v * 100).toFixed(1) + ' %')
const num = (v, d = 1) => (v === null || v === undefined ? '—' : Number(v).toFixed(d))
function table(el, head, rows) {
  el.replaceChildren()
  const tr = document.createElement('tr')
  for (const h of head) { const th = document.createElement('th'); th.textContent = h; tr.append(th) }
  el.append(tr)
  for (const r of rows) {
    const row = document.createElement('tr')
    for (const c of r) { const td = document.createElement('td'); if (c instanceof Node) td.append(c); else td.textContent = String(c); row.append(td) }
    el.append(row)
  }
}
function line(text, cls) { const p = document.createElement('p'); p.textContent = text; if (cls) p.className = cls; return p }
async function get(path) { const r = await fetch(path); if (!r.ok) throw new Error((await r.json()).error.message); return r.json() }
async function drill(id, month) {
  const d = await get('/api/v1/enterprises/' + encodeURIComponent(id) + '/indicators?period=month' + month)
  $('drill-title').textContent = d.enterprise.name + ' (' + d.enterprise.city + ') — monthly indicators / 月度指标'
  $('drill-xlsx').href = '/api/v1/enterprises/' + encodeURIComponent(id) + '/indicators?format=xlsx&period=month' + month
  $('drill-xlsx').hidden = false
  table($('drill'), ['indicator', 'subject', 'carrier', 'value', 'unit', 'revision', 'basis'], d.records.map((r) => [r.indicator, r.subject, r.carrier || '', num(r.value, 2), r.unit, r.revision, r.basis]))
}
async function load() {
  const m = $('month').value.trim()
  const q = m ? '&month=' + encodeURIComponent(m) : ''
  const o = await get('/api/v1/overview?format=json' + q)
  const es = await get('/api/v1/enterprises?format=json' + q)
  $('month').value = o.period.month
  $('csv').href = '/api/v1/enterprises?format=csv&month=' + o.period.month
  $('xlsx').href = '/api/v1/overview?format=xlsx&month=' + o.period.month
  $('title').textContent = o.province + ' · ' + o.period.month
  const p = o.progress
  $('summary').replaceChildren(
    line('Recognised smart factories / digital workshops (declared, document no. + date) · 已认定: ' + p.recognised.total + ' / ' + p.target + ' (' + num(p.recognised.progressPct) + ' %; ' + p.recognised.smartFactories + ' factories, ' + p.recognised.digitalWorkshops + ' workshops)'),
    line('Self-assessment · 自评 (' + p.selfAssessment.label + '): ' + p.selfAssessment.enterprises + ' — ' + p.selfAssessment.rule, 'note'),
    line('Key-process NC rate · 关键工序数控化率: ' + pct(o.nc.rate) + ' (target ' + o.nc.targetPct + ' %, ' + o.nc.scope + ')'),
    line('Key-device networking rate over the month · 关键设备联网率: ' + pct(o.totals.networkingRate)),
    line('Comprehensive energy · 综合能耗: ' + num(o.totals.comprehensiveEnergyTce) + ' tce (' + o.totals.comprehensiveEnergyMissing + ' enterprises missing)'),
    line('Completeness · 完整率: ' + pct(o.totals.completeness) + '; timeliness · 及时率: ' + pct(o.totals.timeliness), o.totals.behind > 0 ? 'bad' : ''),
    line(o.basis.source, 'note'),
  )
  table($('cities'), ['city', 'enterprises', 'tce', 'NC rate', 'networking', 'completeness', 'timeliness', 'behind'], o.cities.map((c) => [c.city, c.enterprises, num(c.comprehensiveEnergyTce), pct(c.ncRate), pct(c.networkingRate), pct(c.completeness), pct(c.timeliness), c.behind]))
  table($('behind'), ['enterprise', 'city', 'why'], o.behind.map((b) => [b.name, b.city, b.reasons.join('; ')]))
  table($('enterprises'), ['enterprise', 'city', 'tce', 'NC rate', 'networking', 'completeness', 'recognitions', 'self-assessed'], es.enterprises.map((e) => {
    const a = document.createElement('a'); a.href = '#'; a.textContent = e.name; a.onclick = (ev) => { ev.preventDefault(); drill(e.id, '&month=' + o.period.month) }
    return [a, e.city, num(e.comprehensiveEnergyTce), pct(e.ncRate), pct(e.networkingRate), pct(e.quality.completeness), e.recognitions.length, e.selfAssessed ? 'yes (self-assessment)' : 'no']
  }))
}
$('month').addEventListener('change', () => load().catch((e) => $('summary').replaceChildren(line(e.message, 'bad'))))
load().catch((e) => $('summary').replaceChildren(line(e.message, 'bad')))
`
