import Type from 'typebox'

/**
 * Qualification of an enterprise as smart factory (智能工厂) or digital workshop (数字化车间) by
 * configurable rules: each rule is a list of conditions that must all hold, over figures measured by
 * the platform (NC rate, networking rate, SEC grades, open alerts) and over facts the enterprise
 * declared in the plant model (`enterprise.attributes`, e.g. mesDeployed: true). Pure: no I/O.
 */

export const METRICS = ['ncRate', 'networkingRate', 'openAlerts', 'keyEquipment'] as const
export type Metric = (typeof METRICS)[number]

export const GRADE_LEVELS = ['benchmark', 'compliant', 'below_baseline'] as const
export type GradeLevel = (typeof GRADE_LEVELS)[number]

export const MetricConditionSchema = Type.Object(
  {
    metric: Type.Enum(METRICS, {
      description: 'ncRate and networkingRate are fractions 0..1 of key equipment; openAlerts a count of open alerts; keyEquipment the number of key devices',
    }),
    min: Type.Optional(Type.Number({ description: 'passes when the figure is ≥ min' })),
    max: Type.Optional(Type.Number({ description: 'passes when the figure is ≤ max' })),
  },
  { additionalProperties: false, description: 'a measured figure within bounds (min and/or max)' },
)

export const GradeConditionSchema = Type.Object(
  {
    grades: Type.Enum(['benchmark', 'compliant'], {
      description: 'every graded product of the enterprise reaches at least this grade (benchmark = 标杆, compliant = between 标杆 and 基准)',
    }),
    requireGraded: Type.Optional(Type.Boolean({ description: 'fail when the enterprise has no graded product (default false: nothing to check passes)' })),
  },
  { additionalProperties: false, description: 'SEC grades of the enterprise’s products' },
)

export const AttributeConditionSchema = Type.Object(
  {
    attribute: Type.String({ minLength: 1, description: 'key of enterprise.attributes in the plant model, e.g. mesDeployed' }),
    equals: Type.Optional(Type.Union([Type.Number(), Type.Boolean(), Type.String()], { description: 'passes when the declared value equals this' })),
    min: Type.Optional(Type.Number({ description: 'passes when the declared value is a number ≥ min' })),
  },
  { additionalProperties: false, description: 'a fact declared by the enterprise (missing = fails)' },
)

export const ConditionSchema = Type.Union([MetricConditionSchema, GradeConditionSchema, AttributeConditionSchema], {
  description: 'one condition: { metric, min?, max? } | { grades, requireGraded? } | { attribute, equals?, min? }',
})

export type MetricCondition = Type.Static<typeof MetricConditionSchema>
export type GradeCondition = Type.Static<typeof GradeConditionSchema>
export type AttributeCondition = Type.Static<typeof AttributeConditionSchema>
export type Condition = Type.Static<typeof ConditionSchema>

export const QUALIFICATIONS = ['smart_factory', 'digital_workshop', 'none'] as const
export type Qualification = (typeof QUALIFICATIONS)[number]

/** What the conditions are evaluated over: one enterprise's figures. */
export interface QualificationInput {
  /** 0..1, null when the enterprise has no key equipment. */
  ncRate: number | null
  /** 0..1, null when the enterprise has no key equipment. */
  networkingRate: number | null
  openAlerts: number
  keyEquipment: number
  /** Grades of the enterprise's graded products (lines with a benchmark and SEC over the period). */
  grades: ReadonlyArray<{ line: string; product: string; grade: GradeLevel | null }>
  /** enterprise.attributes of the plant model. */
  attributes: Readonly<Record<string, number | boolean | string>>
}

export interface ConditionResult {
  /** The condition in words, e.g. `ncRate ≥ 0.7`. */
  condition: string
  passed: boolean
  /** Why: the value found, e.g. `ncRate 0.5 < 0.7`. */
  reason: string
}

export interface RuleResult {
  rule: Exclude<Qualification, 'none'>
  passed: boolean
  conditions: ConditionResult[]
}

const GRADE_RANK: Readonly<Record<GradeLevel, number>> = { benchmark: 2, compliant: 1, below_baseline: 0 }

const fmt = (x: number): string => String(Math.round(x * 10_000) / 10_000)

function describe(c: Condition): string {
  if ('metric' in c) {
    const parts: string[] = []
    if (c.min !== undefined) parts.push(`${c.metric} ≥ ${fmt(c.min)}`)
    if (c.max !== undefined) parts.push(`${c.metric} ≤ ${fmt(c.max)}`)
    return parts.length > 0 ? parts.join(' and ') : `${c.metric} (no bound)`
  }
  if ('grades' in c) return `every graded product at least ${c.grades}${c.requireGraded ? ' (at least one graded)' : ''}`
  const parts: string[] = []
  if (c.equals !== undefined) parts.push(`${c.attribute} = ${JSON.stringify(c.equals)}`)
  if (c.min !== undefined) parts.push(`${c.attribute} ≥ ${fmt(c.min)}`)
  return parts.length > 0 ? parts.join(' and ') : `${c.attribute} declared`
}

/** Evaluates one condition over an enterprise's figures; the reason names the value found. */
export function evaluateCondition(c: Condition, input: QualificationInput): ConditionResult {
  const condition = describe(c)
  if ('metric' in c) {
    const value = input[c.metric]
    if (value === null) return { condition, passed: false, reason: `${c.metric} unknown: the enterprise has no key equipment` }
    const failures: string[] = []
    if (c.min !== undefined && !(value >= c.min)) failures.push(`${c.metric} ${fmt(value)} < ${fmt(c.min)}`)
    if (c.max !== undefined && !(value <= c.max)) failures.push(`${c.metric} ${fmt(value)} > ${fmt(c.max)}`)
    return failures.length > 0 ? { condition, passed: false, reason: failures.join('; ') } : { condition, passed: true, reason: `${c.metric} ${fmt(value)}` }
  }
  if ('grades' in c) {
    const want = GRADE_RANK[c.grades]
    if (input.grades.length === 0) {
      return c.requireGraded
        ? { condition, passed: false, reason: 'no graded product' }
        : { condition, passed: true, reason: 'no graded product: nothing to check' }
    }
    const bad = input.grades.filter((g) => g.grade === null || GRADE_RANK[g.grade] < want)
    if (bad.length > 0) {
      return { condition, passed: false, reason: bad.map((g) => `${g.line} (${g.product}): ${g.grade ?? 'no SEC in the period'}`).join('; ') }
    }
    return { condition, passed: true, reason: input.grades.map((g) => `${g.line} (${g.product}): ${g.grade}`).join('; ') }
  }
  const value = input.attributes[c.attribute]
  if (value === undefined) return { condition, passed: false, reason: `${c.attribute} not declared in enterprise.attributes` }
  const failures: string[] = []
  if (c.equals !== undefined && value !== c.equals) failures.push(`${c.attribute} is ${JSON.stringify(value)}`)
  if (c.min !== undefined && !(typeof value === 'number' && value >= c.min))
    failures.push(`${c.attribute} is ${JSON.stringify(value)}, not a number ≥ ${fmt(c.min)}`)
  return failures.length > 0
    ? { condition, passed: false, reason: failures.join('; ') }
    : { condition, passed: true, reason: `${c.attribute} is ${JSON.stringify(value)}` }
}

/** Evaluates a rule (all conditions must hold; an empty rule never passes: nothing was asked). */
export function evaluateRule(rule: RuleResult['rule'], conditions: readonly Condition[], input: QualificationInput): RuleResult {
  const results = conditions.map((c) => evaluateCondition(c, input))
  return { rule, passed: results.length > 0 && results.every((r) => r.passed), conditions: results }
}

export interface QualificationRules {
  smartFactory: readonly Condition[]
  digitalWorkshop: readonly Condition[]
}

/**
 * Qualifies an enterprise: smart_factory when the smart-factory rule passes, else digital_workshop
 * when that rule passes, else none. Both rules are always evaluated and returned, so the answer says
 * which passed or failed and why.
 */
export function qualify(rules: QualificationRules, input: QualificationInput): { qualifiedAs: Qualification; rules: RuleResult[] } {
  const sf = evaluateRule('smart_factory', rules.smartFactory, input)
  const dw = evaluateRule('digital_workshop', rules.digitalWorkshop, input)
  return { qualifiedAs: sf.passed ? 'smart_factory' : dw.passed ? 'digital_workshop' : 'none', rules: [sf, dw] }
}
