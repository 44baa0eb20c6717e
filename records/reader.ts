import { ENTRY_KINDS, entryOfRecord, type EnergyEntry, type ProductionEntry, type RecordReader } from './entries.ts'
import type { EventLog } from '../storage/events.ts'
import { meterEventReader } from './meter-events.ts'
import { createRecordStore, type RecordStore } from './store.ts'

/**
 * The entries the comprehensive-energy computation reads. A query names a scope: an enterprise
 * answers the entries of the enterprise itself and of every site and line in it, a site those of
 * the site and its lines, a line its own — each entry says its site and line, so the caller decides
 * which boundary counts. Only current entries (latest revision, void left out) overlapping
 * [start, end) are answered, ordered by start; a partly overlapping entry is answered whole.
 */
export function createRecordReader(store: RecordStore): RecordReader {
  const filterOf = (q: { enterprise: string; site?: string; line?: string }): Record<string, string> => ({
    enterprise: q.enterprise,
    ...(q.site !== undefined ? { site: q.site } : {}),
    ...(q.line !== undefined ? { line: q.line } : {}),
  })
  return {
    async energyEntries(q) {
      const records = await store.current(ENTRY_KINDS.energy, { filter: filterOf(q), start: q.start, end: q.end })
      return records.map(entryOfRecord).flatMap((e): EnergyEntry[] => {
        if (e?.kind !== 'energy') return []
        const { kind: _, ...entry } = e
        return [entry]
      })
    },
    async productionEntries(q) {
      const records = await store.current(ENTRY_KINDS.production, { filter: filterOf(q), start: q.start, end: q.end })
      return records.map(entryOfRecord).flatMap((e): ProductionEntry[] => {
        if (e?.kind !== 'production') return []
        const { kind: _, ...entry } = e
        return [entry]
      })
    },
  }
}

/**
 * What a report reads from the audited records of an event log: the energy and production entries
 * (`ReportDeps.records`) and the recorded meter events (`ReportDeps.meterEvents`). Every process that
 * computes reports — the API, the uploader — passes both, so its figures are the plant's own.
 */
export function reportReadersOf(events: EventLog): { records: RecordReader; meterEvents: ReturnType<typeof meterEventReader> } {
  const store = createRecordStore(events)
  return { records: createRecordReader(store), meterEvents: meterEventReader(store) }
}
