/**
 * What no meter measures: the audited record store (revisions on the event log, who / when / why)
 * and the energy and production entries on it. See README.md.
 */
export {
  createRecordStore,
  kindOfRecordId,
  MAX_RECORD_SPAN_MS,
  RECORD_ID_PATTERN,
  RECORD_KIND_PATTERN,
  type CurrentQuery,
  type JsonValue,
  type PutMeta,
  type RecordBody,
  type RecordStore,
  type ReviseMeta,
  type StoredRecord,
} from './store.ts'
export {
  ENERGY_KIND,
  ENTRY_KINDS,
  EnergyEntryInputSchema,
  EntryInputSchema,
  PRODUCTION_KIND,
  ProductionEntryInputSchema,
  entryOfRecord,
  inputOfEntry,
  type EnergyEntry,
  type EnergyEntryInput,
  type Entry,
  type EntryInput,
  type EntryKind,
  type ProductionEntry,
  type ProductionEntryInput,
  type RecordReader,
} from './entries.ts'
export { ENTRY_ERROR_CODES, checkEntryInputs, entriesError, schemaFieldProblems, type EntryErrorCode, type EntryProblem } from './entry-rules.ts'
export { EntryBook, type EntryQuery, type EntryRevision, type ReviseEntryMeta } from './entry-book.ts'
export { createRecordReader, reportReadersOf } from './reader.ts'
export { ENTRY_CSV_COLUMNS, MAX_ENTRY_CSV_ROWS, importEntriesCsv, parseEntryTime, readEntriesCsv, type EntryCsvResult, type EntryCsvRowError } from './csv.ts'
export {
  EVENT_SPACING_MS,
  METER_EVENT_ERROR_CODES,
  METER_EVENT_KIND,
  METER_EVENT_TYPES,
  MeterEventBook,
  MeterEventInputSchema,
  meterEventError,
  meterEventOfRecord,
  meterEventReader,
  type MeterEvent,
  type MeterEventBookOptions,
  type MeterEventInput,
  type MeterEventQuery,
  type MeterEventRevision,
  type MeterEventType,
} from './meter-events.ts'
