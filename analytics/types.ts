/** Shared shapes of analytics inputs and outputs. All timestamps are epoch milliseconds. */

/** One reading of one quantity, as the stores return it. */
export interface Sample {
  ts: number
  value: number
  /** Edge quality flag (core/payload.ts); absent means good. */
  quality?: 'good' | 'uncertain' | 'bad'
}

/** A half-open time range [start, end). */
export interface TimeRange {
  start: number
  end: number
}

/**
 * An amount (energy in kWh, gas in m³, production in t …) consumed over [start, end). Spreading it
 * over sub-ranges is pro rata by time (constant rate inside the interval).
 */
export interface AmountInterval extends TimeRange {
  amount: number
}
