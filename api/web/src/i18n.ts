import { DICT } from './dict.ts'
import { state } from './state.ts'

const words = (lang: 'zh' | 'en'): Record<string, string | undefined> => DICT[lang]

/** The word for a key in the page's language: a label, a column key of the API's rows, or a badge value; the key itself when unknown. */
export const t = (key: string): string => words(state.lang)[key] ?? words('zh')[key] ?? key

/** A badge value's label: grades share the word "benchmark" with a column, qualification 'none' with "no data". */
export const valueLabel = (v: string): string => t(v === 'benchmark' ? 'benchmark_grade' : v === 'none' ? 'none_q' : v)

/** Locale of numbers and dates in the page's language. */
export const locale = (): string => (state.lang === 'zh' ? 'zh-CN' : 'en-GB')
