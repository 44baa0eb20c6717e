import Type from 'typebox'
import { Value } from 'typebox/value'
import { parseConfigText, schemaProblems, type ConfigProblem } from '../core/config.ts'
import { parseDuration } from '../core/duration.ts'
import { PlantWattError } from '../core/errors.ts'
import { DEVICE_KINDS } from '../core/plant.ts'
import { isQuantity } from '../core/quantities.ts'
import { ID_PATTERN } from '../core/topic.ts'
import { CalendarSchema, type CalendarConfig } from './calendar.ts'
import { ChannelSchema, EscalationSchema, notifyProblems } from './notify/config.ts'

/** Rule kinds: what a rule watches. */
export const RULE_KINDS = ['threshold', 'rate', 'offline', 'stuck', 'counter', 'power_factor', 'demand', 'standby', 'anomaly'] as const
export type RuleKind = (typeof RULE_KINDS)[number]

export const SEVERITIES = ['info', 'warning', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

const Duration = (description: string, def?: string) =>
  Type.String({
    pattern: '^[1-9][0-9]{0,5}(ms|s|m|h|d|w)$|^0$',
    description: `${description} (e.g. 30s, 5m, 1h; 0 = none)`,
    ...(def === undefined ? {} : { default: def }),
  })
const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })

export const RuleMatchSchema = Type.Object(
  {
    enterprise: Type.Optional(Id('only devices of this enterprise')),
    site: Type.Optional(Id('only devices of this site')),
    line: Type.Optional(Id('only devices of this line')),
    device: Type.Optional(Id('only devices with this id')),
    deviceKind: Type.Optional(Type.Enum(DEVICE_KINDS, { description: 'only devices of this kind in the plant model (meter, machine, plc, sensor)' })),
    mainMeter: Type.Optional(Type.Boolean({ description: "true: only lines' main meters; false: all but main meters" })),
  },
  { additionalProperties: false, description: 'which devices the rule watches; every key given must match; empty = every device' },
)

/**
 * One rule. Keys that do not apply to the kind are rejected (so a misplaced key is found), keys the
 * kind needs are required: see alerts/README.md for the reference per kind.
 */
export const RuleSchema = Type.Object(
  {
    id: Id('rule id: the `rule` tag of its alerts'),
    kind: Type.Enum(RULE_KINDS, { description: 'what the rule watches' }),
    match: Type.Object(RuleMatchSchema.properties, { additionalProperties: false, default: {} }),
    severity: Type.Enum(SEVERITIES, { default: 'warning' }),
    quantity: Type.Optional(Type.String({ description: 'canonical quantity watched (threshold, rate, stuck, counter); defaults per kind' })),
    above: Type.Optional(Type.Number({ description: 'threshold: fire when the value is above' })),
    below: Type.Optional(Type.Number({ description: 'threshold: fire when the value is below; power_factor: the limit (default 0.9)' })),
    deadband: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'threshold, power_factor: hysteresis; normal again only this far inside the limit (units of the quantity). Default 0',
      }),
    ),
    maxChangePerMin: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'rate: fire when |Δvalue| per minute between two samples exceeds this' })),
    interval: Type.Optional(
      Duration(
        'offline: shortest sample interval assumed (default 1m); a device that reports less often is judged by its own observed interval (median of its recent gaps)',
      ),
    ),
    missed: Type.Optional(Type.Integer({ minimum: 1, description: 'offline: fire after this many intervals without data (default 5)' })),
    minSamples: Type.Optional(
      Type.Integer({ minimum: 2, description: 'stuck: at least this many equal samples in a row (default 4), whatever the reporting interval' }),
    ),
    lowLoadKw: Type.Optional(
      Type.Number({
        minimum: 0,
        description:
          'stuck (active power): at or below this level equal readings are quantisation (steady idle) and need lowLoadFor; default learned: the upper edge of the idle regime',
      }),
    ),
    lowLoadFor: Type.Optional(Duration('stuck: how long equal readings at low load must last (default 4h)')),
    regimes: Type.Optional(
      Type.Enum(['auto', 'off'], {
        description:
          'anomaly: auto = learn idle/reduced/running regimes from the data on lines without a production counter (default auto); off = one band per slot',
      }),
    ),
    minRegimeShare: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'anomaly: a regime is normal in a slot of the week when at least this share of the history was in it there (default 0.1)',
      }),
    ),
    regimeRatio: Type.Optional(Type.Number({ minimum: 1, description: 'anomaly: running/idle level ratio from which a device has regimes (default 3)' })),
    lowerRegimeNormal: Type.Optional(
      Type.Boolean({
        description:
          'anomaly with regimes: a window at the level of a lower regime than the slot expects (the line stopped or slowed early) is normal (default true); false = it fires as a drop',
      }),
    ),
    minStartShare: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description:
          'anomaly with regimes: a line at rest (below running for restFor) coming up to running level in a slot of the week where the history shows such a start on fewer than this share of its days at rest there fires (default 0.1; 0 = off)',
      }),
    ),
    restFor: Type.Optional(
      Duration(
        'anomaly with regimes, start check: how long below the running level counts as at rest (default 30m; 0 = no start check; learned with the first anomaly rule)',
      ),
    ),
    startTolerance: Type.Optional(
      Duration("anomaly with regimes, start check: a start this much earlier or later than the history's starts is still usual (default 1h)"),
    ),
    tailFactor: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'anomaly without regimes: the band is at least this × the 99th-percentile relative residual of the history (default 1.25; 0 = off)',
      }),
    ),
    tailQuantile: Type.Optional(
      Type.Number({
        minimum: 0.5,
        maximum: 1,
        description: 'anomaly without regimes: the quantile of the relative residuals the tail floor (tailFactor) is taken at (default 0.99)',
      }),
    ),
    floorShare: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        description:
          'anomaly without regimes: residuals are relative to max(|expected|, this × the median power of the history), so near-zero expectations do not make every band vanish (default 0.05)',
      }),
    ),
    minBandShare: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'anomaly without regimes: smallest band half-width as a share of the expected value (default 0.01)' }),
    ),
    minSlotSamples: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          'anomaly with regimes: windows a slot of the week needs before its own regime shares count; a slot with fewer borrows its neighbours of the same day, up to one hour each side (default 3)',
      }),
    ),
    clearBand: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        description: 'anomaly: a window counts towards clearing only inside this share of the band (default 0.7: no flapping at the edge)',
      }),
    ),
    recentIdle: Type.Optional(
      Duration(
        'standby: the learned idle level follows the idle windows of this last stretch of the history when they sit higher than the whole history (a base load risen for the season is the new idle; default 14d; 0 = the whole history only; first standby rule)',
      ),
    ),
    idleShare: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'standby: a slot of the week where at least this share of the history was idle counts as idle time (default 0.9)',
      }),
    ),
    calendar: Type.Optional(
      Type.Object(CalendarSchema.properties, {
        additionalProperties: false,
        description: 'anomaly, standby: working calendar (default every day a working day)',
      }),
    ),
    minPowerKw: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'power_factor: ignore samples below this active power (default 0); stuck: ignore values at or below (default 0)',
      }),
    ),
    margin: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'demand: fire when the forecast exceeds contractedDemandKw × margin (default 1)' })),
    minElapsed: Type.Optional(Duration('demand: forecast only after this much of the 15-minute window (default 5m)')),
    idleKw: Type.Optional(
      Type.Number({ minimum: 0, description: 'standby: idle level, kW; default learned: P90 of the out-of-shift power in the history × 1.25' }),
    ),
    k: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'anomaly: band half-width in robust standard deviations (default 5)' })),
    window: Type.Optional(Duration('anomaly: averaging window of power and production rate (default 15m)')),
    history: Type.Optional(Duration('anomaly, standby: history the baseline is learned from (default 4w)')),
    relearnEvery: Type.Optional(Duration('anomaly, standby: re-learn the baseline this often (default 1d)')),
    minBandKw: Type.Optional(
      Type.Number({ minimum: 0, description: 'anomaly: smallest band half-width, kW (default 0.5); the band is also at least 1 % of the expected value' }),
    ),
    direction: Type.Optional(
      Type.Enum(['both', 'above', 'below'], { description: 'anomaly: which side of the band fires (default both); above = unexpected extra load only' }),
    ),
    for: Type.Optional(Duration('the condition must hold this long before the alert fires (default per kind)')),
    clearAfter: Type.Optional(Duration('an open alert resolves itself after the condition has been normal this long (default per kind)')),
  },
  { additionalProperties: false },
)

export const WebhookSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'POST target; receives one JSON notification per alert event' }),
    headers: Type.Record(Type.String(), Type.String(), { default: {}, description: 'extra request headers (e.g. a token)' }),
    minSeverity: Type.Enum(SEVERITIES, { default: 'info', description: 'only alerts of at least this severity' }),
    timeoutMs: Type.Integer({ minimum: 100, default: 5000, description: 'per attempt; a hanging endpoint is cut off' }),
    maxAttempts: Type.Integer({ minimum: 1, default: 6, description: 'attempts per notification before it is dropped (and counted)' }),
    initialBackoffMs: Type.Integer({ minimum: 1, default: 1000, description: 'wait before the 2nd attempt; doubles each time' }),
    maxBackoffMs: Type.Integer({ minimum: 1, default: 60_000 }),
    queueSize: Type.Integer({ minimum: 1, default: 1000, description: 'notifications waiting per webhook; beyond, the oldest is dropped (and counted)' }),
  },
  { additionalProperties: false },
)

/** The `alerts:` section of a PlantWatt config. */
export const AlertsConfigSchema = Type.Object(
  {
    rules: Type.Array(RuleSchema, { default: [], description: 'alert rules' }),
    webhooks: Type.Array(WebhookSchema, { default: [] }),
    channels: Type.Array(ChannelSchema, { default: [], description: 'WeCom, DingTalk, Feishu/Lark robots and e-mail (alerts/notify/config.ts)' }),
    escalation: Type.Array(EscalationSchema, { default: [], description: 'notify further channels when an alert is not acknowledged in time' }),
    pollEventsMs: Type.Integer({
      minimum: 100,
      default: 2000,
      description: 'how often the service reads acknowledgements and resolutions made through the API from the event log',
    }),
    restoreLookback: Duration('at start, open alerts are rebuilt from the events of this period', '30d'),
    tickMs: Type.Integer({ minimum: 100, default: 5000, description: 'how often time-based conditions (offline, demand, window ends) are evaluated' }),
  },
  { additionalProperties: false },
)

/**
 * A rule set that needs no numbers from anyone: what `npm run eval:alerts` measures, and a sensible
 * default for `plantwatt up` when the config has no rules.
 */
export const RECOMMENDED_RULES: readonly Record<string, unknown>[] = Object.freeze([
  { id: 'device-offline', kind: 'offline', severity: 'critical', interval: '1m', missed: 5 },
  { id: 'value-stuck', kind: 'stuck', match: { deviceKind: 'meter' }, quantity: 'active_power_kw', for: '15m' },
  { id: 'energy-counter-backwards', kind: 'counter', match: { deviceKind: 'meter' }, quantity: 'energy_import_kwh' },
  { id: 'power-anomaly', kind: 'anomaly', match: { deviceKind: 'meter' }, k: 5, for: '30m', clearAfter: '30m', history: '52w' },
  { id: 'power-spike', kind: 'anomaly', match: { deviceKind: 'meter' }, k: 12, direction: 'above', for: '15m', clearAfter: '30m', history: '52w' },
  { id: 'standby-waste', kind: 'standby', match: { deviceKind: 'meter' }, for: '30m', history: '52w' },
])

export type RuleConfig = Type.Static<typeof RuleSchema>
export type RuleMatch = Type.Static<typeof RuleMatchSchema>
export type WebhookConfig = Type.Static<typeof WebhookSchema>
export type AlertsConfig = Type.Static<typeof AlertsConfigSchema>
export type AlertsConfigInput = Partial<AlertsConfig> & { rules?: unknown[] }

/** A rule with its durations in ms and every default filled in. */
export interface ResolvedRule {
  id: string
  kind: RuleKind
  match: RuleMatch
  severity: Severity
  quantity: string
  above?: number
  below?: number
  deadband: number
  maxChangePerMin: number
  intervalMs: number
  missed: number
  minPowerKw: number
  margin: number
  minElapsedMs: number
  idleKw?: number
  k: number
  windowMs: number
  historyMs: number
  relearnEveryMs: number
  minBandKw: number
  direction: 'both' | 'above' | 'below'
  minSamples: number
  lowLoadKw?: number
  lowLoadForMs: number
  regimes: 'auto' | 'off'
  minRegimeShare: number
  regimeRatio: number
  lowerRegimeNormal: boolean
  minStartShare: number
  restForMs: number
  startToleranceMs: number
  tailFactor: number
  tailQuantile: number
  floorShare: number
  minBandShare: number
  minSlotSamples: number
  clearBand: number
  idleShare: number
  recentIdleMs: number
  /** The rule's own calendar; unset: the enterprise's from the plant model, else every day a working day. */
  calendar?: CalendarConfig
  forMs: number
  clearAfterMs: number
}

type RuleKey = keyof RuleConfig
const COMMON: readonly RuleKey[] = ['id', 'kind', 'match', 'severity', 'for', 'clearAfter']
/** Keys each kind accepts (besides the common ones), and those it requires. */
const KIND_KEYS: Record<RuleKind, { allowed: readonly RuleKey[]; required: readonly RuleKey[] }> = {
  threshold: { allowed: ['quantity', 'above', 'below', 'deadband'], required: ['quantity'] },
  rate: { allowed: ['quantity', 'maxChangePerMin'], required: ['quantity', 'maxChangePerMin'] },
  offline: { allowed: ['interval', 'missed'], required: [] },
  stuck: { allowed: ['quantity', 'minPowerKw', 'minSamples', 'lowLoadKw', 'lowLoadFor'], required: [] },
  counter: { allowed: ['quantity'], required: [] },
  power_factor: { allowed: ['below', 'deadband', 'minPowerKw'], required: [] },
  demand: { allowed: ['margin', 'minElapsed'], required: [] },
  standby: { allowed: ['idleKw', 'history', 'relearnEvery', 'idleShare', 'recentIdle', 'calendar'], required: [] },
  anomaly: {
    allowed: [
      'k',
      'window',
      'history',
      'relearnEvery',
      'minBandKw',
      'direction',
      'regimes',
      'minRegimeShare',
      'regimeRatio',
      'lowerRegimeNormal',
      'minStartShare',
      'restFor',
      'startTolerance',
      'tailFactor',
      'tailQuantile',
      'floorShare',
      'minBandShare',
      'minSlotSamples',
      'clearBand',
      'calendar',
    ],
    required: [],
  },
}

const DEFAULT_FOR: Record<RuleKind, string> = {
  threshold: '1m',
  rate: '0',
  offline: '0',
  stuck: '15m',
  counter: '0',
  power_factor: '15m',
  demand: '0',
  standby: '30m',
  anomaly: '30m',
}
const DEFAULT_CLEAR: Record<RuleKind, string> = {
  threshold: '5m',
  rate: '5m',
  offline: '0',
  stuck: '5m',
  counter: '1h',
  power_factor: '15m',
  demand: '0',
  standby: '30m',
  anomaly: '30m',
}
const DEFAULT_QUANTITY: Partial<Record<RuleKind, string>> = { stuck: 'active_power_kw', counter: 'energy_import_kwh' }

/** A config duration (fixed units only, '0' = none) in ms. */
export const durationMs = (text: string): number => (text === '0' ? 0 : (parseDuration(text) as { ms: number }).ms)
const ms = durationMs

function ruleProblems(rule: RuleConfig, path: string): ConfigProblem[] {
  const out: ConfigProblem[] = []
  const spec = KIND_KEYS[rule.kind]
  for (const key of Object.keys(rule) as RuleKey[]) {
    // Keys unknown to every kind are the schema's to report.
    if (!(key in RuleSchema.properties)) continue
    if (!COMMON.includes(key) && !spec.allowed.includes(key))
      out.push({ path: `${path}/${key}`, message: `does not apply to a ${rule.kind} rule (allowed: ${spec.allowed.join(', ') || 'none'})` })
  }
  for (const key of spec.required) if (rule[key] === undefined) out.push({ path: `${path}/${key}`, message: `required for a ${rule.kind} rule` })
  if (rule.quantity !== undefined && !isQuantity(rule.quantity))
    out.push({ path: `${path}/quantity`, message: `unknown quantity ${JSON.stringify(rule.quantity)} (see core/quantities.ts)` })
  if (rule.kind === 'threshold' && rule.above === undefined && rule.below === undefined)
    out.push({ path: `${path}/above`, message: 'a threshold rule needs above, below or both' })
  if (rule.kind === 'threshold' && rule.above !== undefined && rule.below !== undefined && !(rule.below < rule.above))
    out.push({ path: `${path}/below`, message: 'must be less than above' })
  return out
}

/**
 * Validates the alerts section: schema problems and rule problems (keys that do not fit the kind,
 * missing keys, unknown quantities, duplicate ids) are all reported at once, each by its path, in
 * one ALERTS_ERR_CONFIG. Returns the config with defaults filled and its rules resolved.
 */
export function validateAlertsConfig(raw: unknown, source = 'alerts'): { config: AlertsConfig; rules: ResolvedRule[] } {
  const filled = Value.Default(AlertsConfigSchema, Value.Clone(raw ?? {})) as AlertsConfig
  const problems = schemaProblems(AlertsConfigSchema, filled)
  // Rule-level checks also on rules the schema rejected, as far as their kind is known: one run
  // reports everything that is wrong.
  const rules = Array.isArray(filled.rules) ? filled.rules : []
  const seen = new Map<string, number>()
  rules.forEach((rule, i) => {
    if (!rule || typeof rule !== 'object') return
    if ((RULE_KINDS as readonly string[]).includes(rule.kind)) problems.push(...ruleProblems(rule, `/rules/${i}`))
    if (typeof rule.id === 'string') {
      if (seen.has(rule.id))
        problems.push({ path: `/rules/${i}/id`, message: `rule id ${JSON.stringify(rule.id)} is also used by /rules/${seen.get(rule.id)}` })
      else seen.set(rule.id, i)
    }
  })
  problems.push(...notifyProblems(filled.channels, filled.escalation))
  if (problems.length > 0) throw configError(source, problems)
  const resolved = rules.map(resolveRule)
  const learning = learningKeyProblems(rules, resolved)
  if (learning.length > 0) throw configError(source, learning)
  return { config: filled, rules: resolved }
}

function configError(source: string, problems: readonly ConfigProblem[]): PlantWattError {
  const unique = problems.filter((p, i) => problems.findIndex((q) => q.path === p.path && q.message === p.message) === i)
  const lines = unique.map((p) => `  ${p.path}: ${p.message}`).join('\n')
  return new PlantWattError('ALERTS_ERR_CONFIG', `${source}: ${unique.length} problem(s)\n${lines}`, { details: unique })
}

/**
 * Keys the detector learns with once per device, from the first anomaly rule (alerts/baseline.ts
 * learnBaselines): the levels, the week and the band's shape are the device's, not a rule's. The
 * calendar also from the first standby rule when there is no anomaly rule.
 */
export const LEARNING_KEYS = [
  'window',
  'regimes',
  'regimeRatio',
  'tailFactor',
  'tailQuantile',
  'floorShare',
  'minSlotSamples',
  'restFor',
  'startTolerance',
  'calendar',
] as const
type LearningKey = (typeof LEARNING_KEYS)[number]
const LEARNED_VALUE: Record<LearningKey, (r: ResolvedRule) => unknown> = {
  window: (r) => r.windowMs,
  regimes: (r) => r.regimes,
  regimeRatio: (r) => r.regimeRatio,
  tailFactor: (r) => r.tailFactor,
  tailQuantile: (r) => r.tailQuantile,
  floorShare: (r) => r.floorShare,
  minSlotSamples: (r) => r.minSlotSamples,
  restFor: (r) => r.restForMs,
  startTolerance: (r) => r.startToleranceMs,
  calendar: (r) => r.calendar,
}

/** The standby rules' idle level is learned once per device too, with the first standby rule's keys. */
const STANDBY_LEARNED_VALUE: Record<'recentIdle', (r: ResolvedRule) => unknown> = { recentIdle: (r) => r.recentIdleMs }

/**
 * A later rule that sets a key learned once per device to another value than the rule the learning
 * takes it from: it would be ignored. The detector's keys come from the first anomaly rule (the first
 * standby rule when there is none; standby rules may set only calendar of them), the standby idle
 * level's from the first standby rule.
 */
function learningKeyProblems(rules: readonly RuleConfig[], resolved: readonly ResolvedRule[]): ConfigProblem[] {
  const firstAnomaly = resolved.findIndex((r) => r.kind === 'anomaly')
  const firstStandby = resolved.findIndex((r) => r.kind === 'standby')
  const groups: { shaping: number; values: Record<string, (r: ResolvedRule) => unknown>; applies: (rule: RuleConfig, key: string) => boolean }[] = [
    {
      shaping: firstAnomaly >= 0 ? firstAnomaly : firstStandby,
      values: LEARNED_VALUE,
      applies: (rule, key) => rule.kind === 'anomaly' || (rule.kind === 'standby' && key === 'calendar'),
    },
    { shaping: firstStandby, values: STANDBY_LEARNED_VALUE, applies: (rule) => rule.kind === 'standby' },
  ]
  const out: ConfigProblem[] = []
  for (const { shaping, values, applies } of groups) {
    if (shaping < 0) continue
    for (const [i, rule] of rules.entries()) {
      if (i === shaping) continue
      for (const [key, value] of Object.entries(values)) {
        if (rule[key as keyof RuleConfig] === undefined || !applies(rule, key)) continue
        if (JSON.stringify(value(resolved[i] as ResolvedRule)) !== JSON.stringify(value(resolved[shaping] as ResolvedRule)))
          out.push({
            path: `/rules/${i}/${key}`,
            message: `${key} is learned once per device, with the first ${resolved[shaping]?.kind} rule (/rules/${shaping}, ${JSON.stringify(rules[shaping]?.[key as keyof RuleConfig] ?? 'default')}): set it there, or leave it out here`,
          })
      }
    }
  }
  return out
}

/** Parses YAML text of the alerts section and validates it (YAML errors are CORE_ERR_CONFIG). */
export function parseAlertsConfig(text: string, source = 'alerts'): { config: AlertsConfig; rules: ResolvedRule[] } {
  return validateAlertsConfig(parseConfigText(text, source), source)
}

export function resolveRule(rule: RuleConfig): ResolvedRule {
  const out: ResolvedRule = {
    id: rule.id,
    kind: rule.kind,
    match: { ...rule.match },
    severity: rule.severity,
    quantity: rule.quantity ?? DEFAULT_QUANTITY[rule.kind] ?? 'active_power_kw',
    deadband: rule.deadband ?? 0,
    maxChangePerMin: rule.maxChangePerMin ?? Infinity,
    intervalMs: ms(rule.interval ?? '1m'),
    missed: rule.missed ?? 5,
    minPowerKw: rule.minPowerKw ?? 0,
    margin: rule.margin ?? 1,
    minElapsedMs: ms(rule.minElapsed ?? '5m'),
    k: rule.k ?? 5,
    windowMs: ms(rule.window ?? '15m'),
    historyMs: ms(rule.history ?? '4w'),
    relearnEveryMs: ms(rule.relearnEvery ?? '1d'),
    minBandKw: rule.minBandKw ?? 0.5,
    direction: rule.direction ?? 'both',
    minSamples: rule.minSamples ?? 4,
    lowLoadForMs: ms(rule.lowLoadFor ?? '4h'),
    regimes: rule.regimes ?? 'auto',
    minRegimeShare: rule.minRegimeShare ?? 0.1,
    regimeRatio: rule.regimeRatio ?? 3,
    lowerRegimeNormal: rule.lowerRegimeNormal ?? true,
    minStartShare: rule.minStartShare ?? 0.1,
    restForMs: ms(rule.restFor ?? '30m'),
    startToleranceMs: ms(rule.startTolerance ?? '1h'),
    tailFactor: rule.tailFactor ?? 1.25,
    tailQuantile: rule.tailQuantile ?? 0.99,
    floorShare: rule.floorShare ?? 0.05,
    minBandShare: rule.minBandShare ?? 0.01,
    minSlotSamples: rule.minSlotSamples ?? 3,
    clearBand: rule.clearBand ?? 0.7,
    idleShare: rule.idleShare ?? 0.9,
    recentIdleMs: ms(rule.recentIdle ?? '14d'),
    ...(rule.calendar ? { calendar: rule.calendar } : {}),
    forMs: ms(rule.for ?? DEFAULT_FOR[rule.kind]),
    clearAfterMs: ms(rule.clearAfter ?? DEFAULT_CLEAR[rule.kind]),
  }
  if (rule.above !== undefined) out.above = rule.above
  if (rule.below !== undefined) out.below = rule.below
  else if (rule.kind === 'power_factor') out.below = 0.9
  if (rule.idleKw !== undefined) out.idleKw = rule.idleKw
  if (rule.lowLoadKw !== undefined) out.lowLoadKw = rule.lowLoadKw
  return out
}
