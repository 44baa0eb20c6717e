import { Gauge, Registry } from 'prom-client'

/** Prometheus names: lower snake case, `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
function metricName(...parts: string[]): string {
  return parts
    .join('_')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .toLowerCase()
}

/** One sample: a metric name, its labels and a value. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Labels that name a row of a list (broker sessions, edge devices): the first of these present. */
const ROW_KEYS = ['clientId', 'device', 'key', 'id', 'name', 'component'] as const

/** The label a row id becomes: an edge device's `key` (enterprise/site/line/device) is labelled `device`. */
const rowLabel = (idKey: (typeof ROW_KEYS)[number]): string => (idKey === 'key' ? 'device' : metricName(idKey))

/**
 * The components' status (the same object `/health` shows admins) as samples: every number and
 * boolean of a component becomes `plantwatt_<component>_<field>`; a record of numbers (dead letters
 * by reason) a metric with a `key` label; a list of objects (the broker's sessions) one metric per
 * numeric field with the row's id as a label. Components named `edge/<enterprise>` share the
 * `edge` metrics with a `connection` label.
 */
export function statusSamples(status: Record<string, unknown>): Sample[] {
  const out: Sample[] = []
  for (const [component, value] of Object.entries(status)) {
    if (value === null || typeof value !== 'object') continue
    const [kind = component, ...rest] = component.split('/')
    const base: Record<string, string> = rest.length > 0 ? { connection: rest.join('/') } : {}
    walk(out, metricName('plantwatt', kind), base, value as Record<string, unknown>, 0)
  }
  return out
}

function walk(out: Sample[], prefix: string, labels: Record<string, string>, obj: Record<string, unknown>, depth: number): void {
  for (const [key, v] of Object.entries(obj)) {
    const name = metricName(prefix, key)
    if (typeof v === 'number' && Number.isFinite(v)) out.push({ name, labels, value: v })
    else if (typeof v === 'boolean') out.push({ name, labels, value: v ? 1 : 0 })
    else if (Array.isArray(v)) {
      for (const row of v) {
        if (row === null || typeof row !== 'object') continue
        const r = row as Record<string, unknown>
        const idKey = ROW_KEYS.find((k) => typeof r[k] === 'string')
        if (!idKey || depth > 1) continue
        walk(out, name, { ...labels, [rowLabel(idKey)]: r[idKey] as string }, r, depth + 1)
      }
    } else if (v !== null && typeof v === 'object' && depth < 2) {
      const entries = Object.entries(v as Record<string, unknown>)
      if (entries.length > 0 && entries.every(([, x]) => typeof x === 'number')) {
        for (const [k, x] of entries) out.push({ name, labels: { ...labels, key: k }, value: x as number })
      } else walk(out, name, labels, v as Record<string, unknown>, depth + 1)
    }
  }
}

/**
 * A Prometheus registry whose gauges are read from `status()` at every scrape (prom-client). Metric
 * names are created as they first appear; a metric whose label names change is made anew.
 */
export class StatusMetrics {
  readonly registry = new Registry()
  private readonly gauges = new Map<string, { gauge: Gauge; labels: string }>()

  constructor(private readonly status: () => Record<string, unknown>) {}

  /** The exposition text (Prometheus text format 0.0.4). */
  async scrape(): Promise<string> {
    const byName = new Map<string, Sample[]>()
    for (const s of statusSamples(this.status())) {
      const list = byName.get(s.name)
      if (list) list.push(s)
      else byName.set(s.name, [s])
    }
    for (const [name, entry] of this.gauges) {
      if (!byName.has(name)) {
        this.registry.removeSingleMetric(name)
        this.gauges.delete(name)
      } else entry.gauge.reset()
    }
    for (const [name, samples] of byName) {
      const labelNames = [...new Set(samples.flatMap((s) => Object.keys(s.labels)))].sort()
      let entry = this.gauges.get(name)
      if (!entry || entry.labels !== labelNames.join(',')) {
        if (entry) this.registry.removeSingleMetric(name)
        entry = {
          gauge: new Gauge({ name, help: `PlantWatt status: ${name.replace(/^plantwatt_/, '').replaceAll('_', ' ')}`, labelNames, registers: [this.registry] }),
          labels: labelNames.join(','),
        }
        this.gauges.set(name, entry)
      }
      for (const s of samples) entry.gauge.set(s.labels, s.value)
    }
    return this.registry.metrics()
  }
}
