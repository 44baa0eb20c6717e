import type { TelemetryPoint } from '../storage/store.ts'
import type { ImportRowError, Retraction, RowProblem, RowVerdict } from './row-verdict.ts'

export interface ScanStats {
  /** Data rows read (header and blank lines not counted). */
  rows: number
  /** Good rows. */
  good: number
  /** Intervals that did not start where the previous one of the device ended (a counter sample is placed at their start). */
  gaps: number
  /** D 00:00 rows read as the end of day D (midnight: auto). */
  midnightShifted: number
  /** Device keys with at least one good row. */
  devices: Set<string>
  first: number | undefined
  last: number | undefined
}

/** Where a pass's verdicts go. */
export interface TallySinks {
  /** Called with each bad row. */
  onError?: (e: ImportRowError) => void
  /** Called with the points of each good row; awaited, so the writer can apply back-pressure. */
  onPoints?: (points: TelemetryPoint[]) => void | Promise<void>
}

/** Counts one pass's rows and verdicts, reports the bad rows and hands out the good rows' points. */
export class ScanTally {
  readonly stats: ScanStats = { rows: 0, good: 0, gaps: 0, midnightShifted: 0, devices: new Set(), first: undefined, last: undefined }

  constructor(private readonly sinks: TallySinks) {}

  /** One more data row read. */
  row(): void {
    this.stats.rows++
  }

  async add(line: number, verdict: RowVerdict): Promise<void> {
    if (verdict.kind === 'bad') return this.bad(line, verdict.problem)
    if (verdict.kind === 'passed') return
    const s = this.stats
    if (verdict.gap) s.gaps++
    if (verdict.midnightShifted) s.midnightShifted++
    s.good++
    s.devices.add(verdict.device.key)
    if (s.first === undefined || verdict.ts < s.first) s.first = verdict.ts
    if (s.last === undefined || verdict.ts > s.last) s.last = verdict.ts
    if (this.sinks.onPoints && verdict.points.length > 0) await this.sinks.onPoints(verdict.points)
  }

  bad(line: number, problem: RowProblem): void {
    this.sinks.onError?.({ line, ...problem })
  }

  /** A row counted good is rejected after all (its device's lone interval row). */
  retract(r: Retraction): void {
    this.stats.good--
    this.bad(r.line, r.problem)
    this.stats.devices.delete(r.deviceKey)
  }
}
