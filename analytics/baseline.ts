import Type from 'typebox'
import { analyticsError } from './errors.ts'

/**
 * ISO 50006 energy baselines (EnB) and energy performance indicators (EnPI): ordinary least squares
 * of energy on relevant variables over a baseline period, validity figures, predicted − actual
 * savings and their CUSUM, and a recorded history of baseline revisions.
 */

/** Validity thresholds. Defaults follow common M&V practice (ISO 50006 leaves them to the user; cf. IPMVP and ASHRAE Guideline 14). */
export const ValidityThresholdsSchema = Type.Object(
  {
    minR2: Type.Number({ default: 0.75, description: 'minimum coefficient of determination' }),
    maxCvRmse: Type.Number({ default: 0.2, description: 'maximum CV(RMSE) as a fraction (0.2 = 20 %)' }),
    minAbsTStat: Type.Number({ default: 2, description: 'minimum |t| of each variable coefficient (≈ 95 % significance)' }),
    minPointsPerVariable: Type.Integer({ default: 3, description: 'minimum observations per estimated parameter' }),
  },
  { additionalProperties: false },
)
export type ValidityThresholds = Type.Static<typeof ValidityThresholdsSchema>
export const DEFAULT_VALIDITY: ValidityThresholds = { minR2: 0.75, maxCvRmse: 0.2, minAbsTStat: 2, minPointsPerVariable: 3 }

/** One period of the baseline or reporting data: energy and the relevant variables' values. */
export interface Observation {
  /** Label of the period, e.g. '2024-05'. */
  period: string
  energy: number
  variables: Readonly<Record<string, number>>
}

export interface Coefficient {
  name: string
  value: number
  stdError: number
  tStat: number
  /** Two-sided p-value from Student's t with n − p − 1 degrees of freedom. */
  pValue: number
}

export interface BaselineModel {
  variables: string[]
  intercept: Coefficient
  coefficients: Coefficient[]
  n: number
  degreesOfFreedom: number
  r2: number
  adjustedR2: number
  /** sqrt(SSE / (n − p − 1)) */
  rmse: number
  /** rmse / mean(energy) */
  cvRmse: number
  meanEnergy: number
  validity: { valid: boolean; reasons: string[]; thresholds: ValidityThresholds }
  period: { from: string; to: string }
}

/** ln Γ (Lanczos, g = 7). */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ]
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x)
  x -= 1
  let a = c[0] as number
  const t = x + 7.5
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (x + i)
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a)
}

/** Continued fraction of the regularized incomplete beta (modified Lentz). */
function betaCf(a: number, b: number, x: number): number {
  const tiny = 1e-300
  let c = 1
  let d = 1 - ((a + b) * x) / (a + 1)
  d = 1 / (Math.abs(d) < tiny ? tiny : d)
  let h = d
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2))
    d = 1 / (Math.abs(1 + aa * d) < tiny ? tiny : 1 + aa * d)
    c = Math.abs(1 + aa / c) < tiny ? tiny : 1 + aa / c
    h *= d * c
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))
    d = 1 / (Math.abs(1 + aa * d) < tiny ? tiny : 1 + aa * d)
    c = Math.abs(1 + aa / c) < tiny ? tiny : 1 + aa / c
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < 1e-15) break
  }
  return h
}

/** Regularized incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const bt = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x))
  return x < (a + 1) / (a + b + 2) ? (bt * betaCf(a, b, x)) / a : 1 - (bt * betaCf(b, a, 1 - x)) / b
}

/** Two-sided p-value of a t statistic with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2). */
export function tTestPValue(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0
  return incompleteBeta(df / (df + t * t), df / 2, 0.5)
}

/** Inverse of a symmetric positive-definite matrix by Gauss–Jordan with partial pivoting. */
function invert(m: number[][]): number[][] {
  const n = m.length
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))])
  for (let col = 0; col < n; col++) {
    let pivot = col
    for (let r = col + 1; r < n; r++) if (Math.abs((a[r] as number[])[col] as number) > Math.abs((a[pivot] as number[])[col] as number)) pivot = r
    const scale = Math.max(1, ...a.map((row) => Math.abs(row[col] as number)))
    if (Math.abs((a[pivot] as number[])[col] as number) < 1e-12 * scale) {
      throw analyticsError('ANALYTICS_ERR_REGRESSION', 'the relevant variables are collinear or constant: the regression has no unique solution')
    }
    ;[a[col], a[pivot]] = [a[pivot] as number[], a[col] as number[]]
    const pr = a[col] as number[]
    const p = pr[col] as number
    for (let j = 0; j < 2 * n; j++) pr[j] = (pr[j] as number) / p
    for (let r = 0; r < n; r++) {
      if (r === col) continue
      const row = a[r] as number[]
      const f = row[col] as number
      if (f !== 0) for (let j = 0; j < 2 * n; j++) row[j] = (row[j] as number) - f * (pr[j] as number)
    }
  }
  return a.map((row) => row.slice(n))
}

/**
 * Fits energy = b0 + Σ bi·xi by ordinary least squares over the baseline observations.
 * Variables are centred before solving, for numerical stability with large production figures.
 */
export function fitBaseline(observations: readonly Observation[], variables: readonly string[], thresholds: Partial<ValidityThresholds> = {}): BaselineModel {
  const th: ValidityThresholds = { ...DEFAULT_VALIDITY, ...thresholds }
  const n = observations.length
  const p = variables.length
  if (n < p + 2) throw analyticsError('ANALYTICS_ERR_REGRESSION', `a baseline with ${p} variable(s) needs at least ${p + 2} observations, got ${n}`)
  const x = observations.map((o, i) =>
    variables.map((v) => {
      const value = o.variables[v]
      if (value === undefined || !Number.isFinite(value))
        throw analyticsError('ANALYTICS_ERR_REGRESSION', `observation ${i} (${o.period}): variable ${v} is missing or not finite`)
      return value
    }),
  )
  const y = observations.map((o) => o.energy)
  if (!y.every(Number.isFinite)) throw analyticsError('ANALYTICS_ERR_REGRESSION', 'energy values must be finite')
  const meanY = y.reduce((s, v) => s + v, 0) / n
  const meanX = variables.map((_, j) => x.reduce((s, row) => s + (row[j] as number), 0) / n)
  const xc = x.map((row) => row.map((v, j) => v - (meanX[j] as number)))
  const xtx = variables.map((_, a) => variables.map((__, b) => xc.reduce((s, row) => s + (row[a] as number) * (row[b] as number), 0)))
  const xty = variables.map((_, a) => xc.reduce((s, row, i) => s + (row[a] as number) * ((y[i] as number) - meanY), 0))
  const inv = p > 0 ? invert(xtx) : []
  const beta = variables.map((_, a) => (inv[a] as number[]).reduce((s, v, b) => s + v * (xty[b] as number), 0))
  const b0 = meanY - beta.reduce((s, b, j) => s + b * (meanX[j] as number), 0)
  let sse = 0
  let sst = 0
  observations.forEach((_, i) => {
    const fit = b0 + beta.reduce((s, b, j) => s + b * ((x[i] as number[])[j] as number), 0)
    sse += ((y[i] as number) - fit) ** 2
    sst += ((y[i] as number) - meanY) ** 2
  })
  const df = n - p - 1
  const sigma2 = sse / df
  const r2 = sst > 0 ? 1 - sse / sst : sse === 0 ? 1 : 0
  const adjustedR2 = 1 - ((1 - r2) * (n - 1)) / df
  const rmse = Math.sqrt(sigma2)
  const cvRmse = meanY !== 0 ? rmse / Math.abs(meanY) : Infinity
  const coef = (name: string, value: number, variance: number): Coefficient => {
    const stdError = Math.sqrt(Math.max(0, variance))
    const tStat = stdError > 0 ? value / stdError : value === 0 ? 0 : Math.sign(value) * Infinity
    return { name, value, stdError, tStat, pValue: tTestPValue(tStat, df) }
  }
  const coefficients = variables.map((v, a) => coef(v, beta[a] as number, sigma2 * ((inv[a] as number[])[a] as number)))
  // Var(b0) = σ²(1/n + x̄ᵀ (XcᵀXc)⁻¹ x̄) for the centred design.
  const quad = meanX.reduce((s, ma, a) => s + meanX.reduce((t, mb, b) => t + ma * ((inv[a] as number[])[b] as number) * mb, 0), 0)
  const intercept = coef('intercept', b0, sigma2 * (1 / n + quad))
  const reasons: string[] = []
  if (r2 < th.minR2) reasons.push(`R² ${r2.toFixed(3)} < ${th.minR2}`)
  if (cvRmse > th.maxCvRmse) reasons.push(`CV(RMSE) ${(cvRmse * 100).toFixed(1)} % > ${th.maxCvRmse * 100} %`)
  if (n < th.minPointsPerVariable * (p + 1)) reasons.push(`${n} observations < ${th.minPointsPerVariable} per parameter (${th.minPointsPerVariable * (p + 1)})`)
  for (const c of coefficients) if (Math.abs(c.tStat) < th.minAbsTStat) reasons.push(`|t| of ${c.name} ${Math.abs(c.tStat).toFixed(2)} < ${th.minAbsTStat}`)
  return {
    variables: [...variables],
    intercept,
    coefficients,
    n,
    degreesOfFreedom: df,
    r2,
    adjustedR2,
    rmse,
    cvRmse,
    meanEnergy: meanY,
    validity: { valid: reasons.length === 0, reasons, thresholds: th },
    period: { from: (observations[0] as Observation).period, to: (observations[n - 1] as Observation).period },
  }
}

/** Energy the baseline model expects for given values of its variables. */
export function predict(model: BaselineModel, variables: Readonly<Record<string, number>>): number {
  return model.coefficients.reduce((s, c) => {
    const v = variables[c.name]
    if (v === undefined) throw analyticsError('ANALYTICS_ERR_REGRESSION', `prediction needs variable ${c.name}`)
    return s + c.value * v
  }, model.intercept.value)
}

export interface SavingsPeriod {
  period: string
  actual: number
  predicted: number
  /** predicted − actual: positive is energy saved. */
  savings: number
  /** Running sum of savings (CUSUM). */
  cusum: number
  /** Normalised EnPI: actual / predicted (below 1 = better than baseline). */
  enpiRatio: number
}

export interface SavingsReport {
  periods: SavingsPeriod[]
  totalSavings: number
  totalPredicted: number
  totalActual: number
  /** 1 − actual/predicted over the reporting period. */
  savingsShare: number
  /** Copied from the model: a report on an invalid model says so rather than being used silently. */
  modelValid: boolean
  modelReasons: string[]
}

/** Savings and CUSUM over the reporting period (ISO 50006: EnPI normalised by the baseline model). */
export function savings(model: BaselineModel, reporting: readonly Observation[]): SavingsReport {
  let cusum = 0
  let totalPredicted = 0
  let totalActual = 0
  const periods = reporting.map((o) => {
    const predicted = predict(model, o.variables)
    const s = predicted - o.energy
    cusum += s
    totalPredicted += predicted
    totalActual += o.energy
    return { period: o.period, actual: o.energy, predicted, savings: s, cusum, enpiRatio: predicted !== 0 ? o.energy / predicted : NaN }
  })
  return {
    periods,
    totalSavings: totalPredicted - totalActual,
    totalPredicted,
    totalActual,
    savingsShare: totalPredicted !== 0 ? 1 - totalActual / totalPredicted : NaN,
    modelValid: model.validity.valid,
    modelReasons: model.validity.reasons,
  }
}

export interface BaselineRevision {
  revision: number
  model: BaselineModel
  /** Why: e.g. 'new kiln line commissioned (static factor change)'. */
  reason: string
  /** When the revision takes effect (epoch ms). */
  at: number
  supersedes?: number
}

export interface BaselineHistory {
  revisions: BaselineRevision[]
}

/** A new history with `newModel` in force from `at`; earlier revisions are kept (ISO 50001 6.5: revisions recorded). */
export function reviseBaseline(history: BaselineHistory, newModel: BaselineModel, reason: string, at: number): BaselineHistory {
  if (reason.trim() === '') throw analyticsError('ANALYTICS_ERR_INPUT', 'a baseline revision needs a reason')
  const last = history.revisions[history.revisions.length - 1]
  if (last && at < last.at)
    throw analyticsError('ANALYTICS_ERR_INPUT', `revision at ${new Date(at).toISOString()} is before the current one (${new Date(last.at).toISOString()})`)
  const revision: BaselineRevision = { revision: (last?.revision ?? 0) + 1, model: newModel, reason, at, ...(last ? { supersedes: last.revision } : {}) }
  return { revisions: [...history.revisions, revision] }
}

/** The revision in force at an instant (undefined before the first). */
export function baselineAt(history: BaselineHistory, at: number): BaselineRevision | undefined {
  return [...history.revisions].reverse().find((r) => r.at <= at)
}
