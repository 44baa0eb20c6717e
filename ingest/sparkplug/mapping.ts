import { PlantWattError } from '../../core/errors.ts'
import { deviceKey } from '../../core/plant.ts'
import { isQuantity, type Quantity } from '../../core/quantities.ts'
import { isValidId, type DeviceAddress } from '../../core/topic.ts'
import type { SparkplugRule } from './config.ts'

/** One Sparkplug metric, named as its births declared it. */
export interface MetricRef {
  group: string
  node: string
  /** '' for a node-level metric. */
  device: string
  metric: string
}

/** Where a metric's values are stored. */
export interface MappedMetric {
  address: DeviceAddress
  /** `enterprise/site/line/device` */
  key: string
  quantity: Quantity
  scale: number
  offset: number
}

export type MappingResult = { mapped: MappedMetric } | { mapped?: undefined; reason: string }

const FIELDS = ['group', 'node', 'device', 'metric'] as const
const TARGET_IDS = ['enterprise', 'site', 'line', 'device'] as const
const CAPTURE = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g
const HAS_CAPTURE = /\{[A-Za-z_][A-Za-z0-9_]*\}/

interface CompiledRule {
  index: number
  patterns: Record<(typeof FIELDS)[number], RegExp>
  rule: SparkplugRule
}

/** `*`: any text; `{name}`: a capture without `/`; the rest literal. */
function compilePattern(pattern: string, captures: Set<string>, path: string): RegExp {
  let source = ''
  let last = 0
  for (const m of pattern.matchAll(/\*|\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
    source += escapeRegex(pattern.slice(last, m.index))
    const name = m[1]
    if (name === undefined) source += '.*'
    else {
      if (captures.has(name)) throw new PlantWattError('INGEST_ERR_CONFIG', `${path}: capture {${name}} is used twice in one rule`)
      captures.add(name)
      source += `(?<${name}>[^/]+)`
    }
    last = m.index + m[0].length
  }
  return new RegExp(`^${source}${escapeRegex(pattern.slice(last))}$`, 's')
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** A captured name made an id: lower case, anything outside [a-z0-9_-] as '-'. */
function idOf(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_-]/g, '-')
}

/**
 * `ingest.sparkplug.mapping`: (group, node, device, metric) → (enterprise, site, line, device,
 * canonical quantity, scale). The first rule whose four patterns match decides; its target's
 * `{capture}`s are filled from the match. Results are cached per metric.
 */
export class SparkplugMapping {
  private readonly rules: CompiledRule[]
  private readonly cache = new Map<string, MappingResult>()

  /**
   * `enterprises`: group id → the enterprise its data may go to (a group not listed: the enterprise
   * of its own name). Throws INGEST_ERR_CONFIG naming the rule for a capture used in a target but not matched.
   */
  constructor(
    rules: readonly SparkplugRule[],
    private readonly enterprises: Readonly<Record<string, string>> = {},
  ) {
    this.rules = rules.map((rule, index) => {
      const path = `ingest.sparkplug.mapping[${index}]`
      const captures = new Set<string>()
      const patterns = Object.fromEntries(FIELDS.map((f) => [f, compilePattern(rule.match[f], captures, `${path}.match.${f}`)])) as CompiledRule['patterns']
      for (const key of [...TARGET_IDS, 'quantity'] as const) {
        const text = rule.to[key]
        for (const m of text.matchAll(CAPTURE)) {
          if (!captures.has(m[1] as string)) throw new PlantWattError('INGEST_ERR_CONFIG', `${path}.to.${key}: {${m[1]}} is not captured by the rule's match`)
        }
        // Without captures the target is fixed: a mistake in it would dead-letter every metric.
        const fixed = !HAS_CAPTURE.test(text)
        if (fixed && (key === 'quantity' ? !isQuantity(text) : !isValidId(text)))
          throw new PlantWattError(
            'INGEST_ERR_CONFIG',
            `${path}.to.${key}: ${JSON.stringify(text)} is not ${key === 'quantity' ? 'a canonical quantity' : 'a valid id'}`,
          )
      }
      return { index, patterns, rule }
    })
  }

  /** Where a metric goes, or why it cannot be mapped. */
  resolve(ref: MetricRef): MappingResult {
    const key = `${ref.group}\u0000${ref.node}\u0000${ref.device}\u0000${ref.metric}`
    let result = this.cache.get(key)
    if (result === undefined) {
      result = this.compute(ref)
      if (this.cache.size >= 100_000) this.cache.clear()
      this.cache.set(key, result)
    }
    return result
  }

  private compute(ref: MetricRef): MappingResult {
    for (const c of this.rules) {
      const groups: Record<string, string> = {}
      let ok = true
      for (const f of FIELDS) {
        const m = c.patterns[f].exec(ref[f])
        if (!m) {
          ok = false
          break
        }
        Object.assign(groups, m.groups)
      }
      if (ok) return this.target(c, groups, ref.group)
    }
    return { reason: 'no mapping rule matches it' }
  }

  private target(c: CompiledRule, groups: Record<string, string>, group: string): MappingResult {
    const fill = (text: string, asId: boolean): string => text.replace(CAPTURE, (_, name: string) => (asId ? idOf(groups[name] ?? '') : (groups[name] ?? '')))
    const address = { enterprise: '', site: '', line: '', device: '' }
    for (const key of TARGET_IDS) {
      const id = fill(c.rule.to[key], true)
      if (!isValidId(id)) return { reason: `rule ${c.index} gives ${key} ${JSON.stringify(id)}, not a valid id` }
      address[key] = id
    }
    // A gateway may publish only its own enterprise's group: its metrics never go elsewhere.
    const owner = this.enterprises[group] ?? group
    if (address.enterprise !== owner) return { reason: `rule ${c.index} gives enterprise ${address.enterprise}, but group ${group} belongs to ${owner}` }
    const quantity = fill(c.rule.to.quantity, false).toLowerCase()
    if (!isQuantity(quantity)) return { reason: `rule ${c.index} gives quantity ${JSON.stringify(quantity)}, not a canonical quantity` }
    return { mapped: { address, key: deviceKey(address), quantity, scale: c.rule.to.scale, offset: c.rule.to.offset } }
  }
}
