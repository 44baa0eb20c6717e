import type { SparkplugMetric } from './codec.ts'
import type { MappingResult } from './mapping.ts'

/** A metric as a birth declared it. */
export interface DeclaredMetric {
  name: string
  datatype: number
  /** Where its values go (or why nowhere), resolved on first use: a birth's names do not change. */
  mapping?: MappingResult
}

/** The metrics one birth (NBIRTH or DBIRTH) declared, by alias and by name. */
export class BirthCertificate {
  private readonly byAlias = new Map<number, DeclaredMetric>()
  private readonly byName = new Map<string, DeclaredMetric>()
  /** Keys (e/s/l/d) of the PlantWatt devices its metrics map to. */
  readonly devices = new Set<string>()

  /** Declares every metric that has a name and a datatype (Sparkplug B 3.0: births carry both). */
  constructor(metrics: readonly SparkplugMetric[]) {
    for (const m of metrics) {
      if (m.name === undefined || m.datatype === undefined) continue
      const declared = { name: m.name, datatype: m.datatype }
      this.byName.set(m.name, declared)
      if (m.alias !== undefined) this.byAlias.set(m.alias, declared)
    }
  }

  /** What a metric of a later message (or of the birth itself) is: by its alias, else by its name. */
  lookup(m: SparkplugMetric): DeclaredMetric | undefined {
    if (m.alias !== undefined) {
      const byAlias = this.byAlias.get(m.alias)
      if (byAlias) return byAlias
    }
    return m.name === undefined ? undefined : this.byName.get(m.name)
  }
}

/** What a host application knows of one edge node (Sparkplug B 3.0 §5.x: births, bdSeq, seq). */
export class NodeRecord {
  /** The NBIRTH's bdSeq: an NDEATH with another one is an old session's will, ignored. */
  bdSeq: number | undefined
  /** The last seq seen (0–255). */
  seq = 0
  /** The node's own birth; undefined while it is not (or no longer) known to be alive. */
  birth: BirthCertificate | undefined
  readonly devices = new Map<string, BirthCertificate>()
  /** When a rebirth was last requested (epoch ms). */
  lastRebirthAt = Number.NEGATIVE_INFINITY

  /** Births are trusted again only after the next NBIRTH (a seq gap, data without birth). */
  forget(): void {
    this.birth = undefined
    this.devices.clear()
  }

  /** True and records it when `seq` follows the last one (mod 256). */
  follows(seq: number | undefined): boolean {
    if (seq === undefined || seq !== (this.seq + 1) % 256) return false
    this.seq = seq
    return true
  }
}
