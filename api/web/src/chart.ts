import type uPlot from 'uplot'
import { el } from './dom.ts'
import { locale } from './i18n.ts'
import { state } from './state.ts'

/** The chart library, a global of /ui/uplot.js (loaded on the first chart, not with the page). */
type UPlotConstructor = typeof uPlot
declare global {
  interface Window {
    uPlot?: UPlotConstructor
  }
}

let uplotLoading: Promise<UPlotConstructor> | undefined
function loadUplot(): Promise<UPlotConstructor> {
  uplotLoading ??= new Promise<UPlotConstructor>((resolve, reject) => {
    document.head.append(el('link', { rel: 'stylesheet', href: '/ui/uplot.css' }))
    const s = el('script', { src: '/ui/uplot.js' })
    s.onload = () => (window.uPlot ? resolve(window.uPlot) : reject(new Error('chart library did not load')))
    s.onerror = () => reject(new Error('chart library did not load'))
    document.head.append(s)
  })
  return uplotLoading
}

const COLORS = ['#2456c5', '#1f8a4c', '#b76e00', '#b42318'] as const

/** Axis labels with as many decimals as the tick step needs (57.5 kW, not 58). */
function tickLabels(_u: uPlot, ticks: number[]): string[] {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 1
  const digits = step >= 1 || step === 0 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)))
  return ticks.map((v) => v.toLocaleString(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }))
}

/** One line (or bars) of a chart. */
export interface ChartSeries {
  label: string
  values: (number | null)[]
  bars?: boolean
  /** Its own scale, with an axis on the right (another unit, or a much smaller range). */
  scale?: string
}

export interface ChartOptions {
  /** Epoch seconds (time axis), or 0..n-1 with `labels`. */
  x: number[]
  labels?: string[]
  /** px, default 220. */
  height?: number
}

/** A uPlot chart in `container`, sized to it; undefined when the view changed while the library loaded. */
export async function chart(container: HTMLElement, series: ChartSeries[], opts: ChartOptions): Promise<uPlot | undefined> {
  const UPlot = await loadUplot()
  if (!document.body.contains(container)) return undefined
  const width = Math.max(280, container.clientWidth - 12)
  const labels = opts.labels
  const scales = [...new Set(series.map((s) => s.scale).filter((s): s is string => !!s))]
  // Bars start at zero, on every axis of the chart (a bar cut at 200 000 reads as nothing).
  const zeroBased = (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, max > 0 ? max * 1.05 : 1]
  const plot = new UPlot(
    {
      width,
      height: opts.height || 220,
      scales: { x: { time: !labels }, ...(series.some((s) => s.bars) ? Object.fromEntries(['y', ...scales].map((k) => [k, { range: zeroBased }])) : {}) },
      // A series with its own `scale` gets an axis on the right.
      axes: [
        labels ? { values: (_u: uPlot, ticks: number[]) => ticks.map((i) => labels[i] ?? '') } : {},
        { size: 72, values: tickLabels },
        ...scales.map((scale) => ({ scale, side: 1 as const, size: 72, grid: { show: false }, values: tickLabels })),
      ],
      series: [
        { ...(labels ? { value: (_u: uPlot, i: number) => labels[i] ?? '' } : {}) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % 4],
          width: 2,
          ...(s.scale ? { scale: s.scale } : {}),
          ...(s.bars ? { paths: UPlot.paths.bars?.({ size: [0.6] }), fill: `${COLORS[i % 4]}55` } : {}),
        })),
      ],
    },
    [opts.x, ...series.map((s) => s.values)],
    container,
  )
  state.charts.push({ plot, box: container })
  return plot
}

// Charts follow the window (a tablet turned, a window resized): uPlot draws at a fixed size.
let resizing: number | undefined
window.addEventListener('resize', () => {
  clearTimeout(resizing)
  resizing = window.setTimeout(() => {
    for (const c of state.charts) c.plot.setSize({ width: Math.max(280, c.box.clientWidth - 12), height: c.plot.height })
  }, 100)
})
