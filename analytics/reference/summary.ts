import { localParts } from '../time.ts'
import { REFERENCE_CONFIG_KEYS } from './config-keys.ts'
import { DEFAULT_REFERENCE, type ReferenceData } from './index.ts'
import { versionStarts } from './tariff-for.ts'

/** What one reference table holds, what is in force, and what the configuration changed. */
export interface ReferenceTableSummary {
  table: 'tariffs' | 'emissionFactors' | 'coal' | 'benchmarks'
  /** Where it is configured. */
  configKey: string
  /** Table version ('per tariff' for tariffs: each has its own versions). */
  version: string
  overridden: boolean
  /** Entry keys relative to the shipped table (tariff id; region/year; carrier; product id). */
  added: string[]
  replaced: string[]
  dropped: string[]
  /** In force at the instant asked for: one line per tariff, per region, or the table. */
  inForce: Array<{ key: string; version: string; source: string; configured: boolean }>
}

function diff<T>(shipped: readonly T[], now: readonly T[], key: (t: T) => string): Pick<ReferenceTableSummary, 'added' | 'replaced' | 'dropped'> {
  const before = new Map(shipped.map((t) => [key(t), JSON.stringify(t)]))
  const after = new Map(now.map((t) => [key(t), JSON.stringify(t)]))
  return {
    added: [...after.keys()].filter((k) => !before.has(k)),
    replaced: [...after].filter(([k, v]) => before.has(k) && before.get(k) !== v).map(([k]) => k),
    dropped: [...before.keys()].filter((k) => !after.has(k)),
  }
}

const isConfigured = (d: Pick<ReferenceTableSummary, 'added' | 'replaced'>, key: string): boolean => d.added.includes(key) || d.replaced.includes(key)
const changed = (d: Pick<ReferenceTableSummary, 'added' | 'replaced' | 'dropped'>): boolean => d.added.length + d.replaced.length + d.dropped.length > 0

/** Per table: the versions in force at `at` (epoch ms) and which entries the configuration added, replaced or dropped. */
export function referenceSummary(ref: ReferenceData, at: number, base: ReferenceData = DEFAULT_REFERENCE): ReferenceTableSummary[] {
  const t = diff(base.tariffs, ref.tariffs, (x) => x.id)
  const tariffs: ReferenceTableSummary = {
    table: 'tariffs',
    configKey: REFERENCE_CONFIG_KEYS.tariffs,
    version: 'per tariff',
    overridden: changed(t),
    ...t,
    inForce: ref.tariffs.map((x) => {
      const starts = versionStarts(x)
      const v = [...starts].reverse().find((s) => s.start <= at)
      return v
        ? { key: x.id, version: `${v.version.id} (from ${v.version.effectiveFrom})`, source: v.version.source, configured: isConfigured(t, x.id) }
        : { key: x.id, version: `none yet (first from ${starts[0]?.version.effectiveFrom})`, source: '', configured: isConfigured(t, x.id) }
    }),
  }
  const f = diff(base.emissionFactors.factors, ref.emissionFactors.factors, (x) => `${x.region}/${x.year}`)
  const year = localParts(at, 'Asia/Shanghai').year
  const emissionFactors: ReferenceTableSummary = {
    table: 'emissionFactors',
    configKey: REFERENCE_CONFIG_KEYS.emissionFactors,
    version: ref.emissionFactors.version,
    overridden: changed(f),
    ...f,
    inForce: [...new Set(ref.emissionFactors.factors.map((x) => x.region))].flatMap((region) => {
      const best = ref.emissionFactors.factors.filter((x) => x.region === region && x.year <= year).sort((a, b) => b.year - a.year)[0]
      if (!best) return []
      const version = `${best.year}: ${best.kgCo2PerKwh} kg CO2/kWh${best.verified ? '' : ' (unverified)'}`
      return [{ key: region, version, source: best.source, configured: isConfigured(f, `${region}/${best.year}`) }]
    }),
  }
  const c = diff(base.coal.coefficients, ref.coal.coefficients, (x) => x.carrier)
  const coal: ReferenceTableSummary = {
    table: 'coal',
    configKey: REFERENCE_CONFIG_KEYS.coal,
    version: ref.coal.version,
    overridden: changed(c),
    ...c,
    inForce: [{ key: 'table', version: ref.coal.version, source: ref.coal.source, configured: changed(c) }],
  }
  const b = diff(base.benchmarks.products, ref.benchmarks.products, (x) => x.id)
  const benchmarks: ReferenceTableSummary = {
    table: 'benchmarks',
    configKey: REFERENCE_CONFIG_KEYS.benchmarks,
    version: ref.benchmarks.version,
    overridden: changed(b),
    ...b,
    inForce: [{ key: 'table', version: ref.benchmarks.version, source: ref.benchmarks.source, configured: changed(b) }],
  }
  return [tariffs, emissionFactors, coal, benchmarks]
}

/** The summary as text lines for `plantwatt check`. */
export function formatReferenceSummary(tables: readonly ReferenceTableSummary[]): string[] {
  const lines: string[] = []
  for (const s of tables) {
    const changes = [
      s.added.length ? `added ${s.added.join(', ')}` : '',
      s.replaced.length ? `replaced ${s.replaced.join(', ')}` : '',
      s.dropped.length ? `dropped ${s.dropped.join(', ')}` : '',
    ].filter(Boolean)
    lines.push(`${s.table} (${s.configKey}): ${s.version}, ${s.overridden ? `overridden: ${changes.join('; ')}` : 'as shipped'}`)
    for (const f of s.inForce) lines.push(`  ${f.key}: ${f.version}${f.configured ? ' [configured]' : ''}${f.source ? ` — ${f.source}` : ''}`)
  }
  return lines
}
