import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { parse, type CsvError, type Parser } from 'csv-parse'
import { PlantWattError, isPlantWattError } from '../core/errors.ts'

/**
 * Where the CSV comes from: text in memory, a file, or a byte stream (an HTTP body). A stream can be
 * read once only: `importCsv` keeps a copy on disk for its second pass (spool.ts).
 */
export type CsvSource = { text: string } | { path: string } | { stream: Readable }

/** Longest record (all its fields), characters: far above any real row, and what bounds csv-parse's buffer. */
export const MAX_RECORD_CHARS = 65_536

/** One record of the file (the header included) and the line it starts on. */
export interface CsvRecord {
  fields: string[]
  /** 1-based line as a text editor shows it, where the record starts. */
  line: number
}

export interface CsvRecordOptions {
  /** Field separator, one character. */
  delimiter: string
  /** Called with each malformed record csv-parse skipped: its line and what is wrong. */
  onMalformed?: (line: number, message: string) => void
}

function openSource(source: CsvSource): Readable {
  if ('path' in source) return createReadStream(source.path)
  if ('stream' in source) return source.stream
  const text = source.text
  const CHUNK = 1 << 16
  return Readable.from(
    (function* () {
      for (let i = 0; i < text.length; ) {
        let end = Math.min(i + CHUNK, text.length)
        // Never split a surrogate pair: each half alone would become U+FFFD in UTF-8.
        const last = text.charCodeAt(end - 1)
        if (last >= 0xd800 && last <= 0xdbff && end < text.length) end++
        yield text.slice(i, end)
        i = end
      }
    })(),
    { objectMode: false },
  )
}

/**
 * Line breaks inside a record's (quoted) fields: `real` as an editor counts them (CRLF = one), and
 * `crlf`, the CRLFs that csv-parse's `info.lines` counts twice inside quotes.
 */
function innerLineBreaks(fields: readonly string[]): { real: number; crlf: number } {
  let real = 0
  let crlf = 0
  for (const f of fields) {
    if (f.indexOf('\n') < 0 && f.indexOf('\r') < 0) continue
    for (let i = 0; i < f.length; i++) {
      const c = f.charCodeAt(i)
      if (c === 10) real++
      else if (c === 13) {
        if (f.charCodeAt(i + 1) === 10) crlf++
        else real++
      }
    }
  }
  return { real, crlf }
}

/** csv-parse with line info, as lenient as a row-by-row check allows: a malformed record is skipped (and reported), not fatal. */
function csvParser(delimiter: string): Parser {
  return parse({
    bom: true,
    delimiter,
    info: true,
    relax_column_count: true,
    // A stray quote inside a field ("2"x, 6"7) stays data: the field's own check then rejects the row.
    relax_quotes: true,
    max_record_size: MAX_RECORD_CHARS,
    skip_empty_lines: true,
    skip_records_with_error: true,
  })
}

/** Any failure while reading rows as the importer reports it: a coded error as it is, anything else IMPORT_ERR_READ. */
export function asReadError(err: unknown): PlantWattError {
  if (err instanceof PlantWattError) return err
  return new PlantWattError('IMPORT_ERR_READ', `cannot read the CSV: ${(err as Error).message}`, { cause: err })
}

/**
 * Reads a CSV source once, record by record (csv-parse's stream parser: the file is never held).
 * Empty lines are skipped; a malformed record goes to `onMalformed` and the reading goes on. Throws
 * IMPORT_ERR_CSV when a quote is never closed (at the end, or at once when a record outgrows
 * MAX_RECORD_CHARS) and IMPORT_ERR_READ when the source fails; a coded error of the source (the
 * API's byte limit) keeps its code. The source is destroyed when the reading stops early.
 */
export async function* readCsvRecords(source: CsvSource, options: CsvRecordOptions): AsyncGenerator<CsvRecord, void, undefined> {
  // CRLFs inside quoted fields so far (csv-parse counts each as two lines).
  let overcount = 0
  const parser = csvParser(options.delimiter)
  // Last line of the last record read: where a never-closed quote can have opened at the earliest.
  let lastGoodLine = 1
  let unclosedQuote = false
  parser.on('skip', (err: CsvError) => {
    // A quote that is never closed swallows the rest of the file: no row boundary can be trusted
    // after it, so the file as a whole is refused (below) rather than its rows silently lost.
    if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
      unclosedQuote = true
      return
    }
    const line = typeof (err as CsvError & { lines?: number }).lines === 'number' ? (err as CsvError & { lines: number }).lines : 0
    // A record this long is no row: most likely the same never-closed quote, caught before it holds the whole file in memory.
    if (err.code === 'CSV_MAX_RECORD_SIZE') {
      parser.destroy(
        new PlantWattError(
          'IMPORT_ERR_CSV',
          `a record after line ${lastGoodLine} is longer than ${MAX_RECORD_CHARS} characters (a quote never closed?); fix the file (nothing was imported)`,
          {
            details: { afterLine: lastGoodLine },
          },
        ),
      )
      return
    }
    options.onMalformed?.(line - overcount, `malformed CSV: ${err.message.replace(/ at line \d+/, '')}`)
  })
  const input = openSource(source)
  input.on('error', (cause) =>
    parser.destroy(
      isPlantWattError(cause)
        ? cause
        : new PlantWattError('IMPORT_ERR_READ', `cannot read ${'path' in source ? source.path : 'the body'}: ${cause.message}`, { cause }),
    ),
  )
  input.pipe(parser)

  let complete = false
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const breaks = innerLineBreaks(rec.record)
      overcount += breaks.crlf
      // csv-parse's `lines` is the record's last line: its first is that minus the breaks inside.
      lastGoodLine = rec.info.lines - overcount
      yield { fields: rec.record, line: lastGoodLine - breaks.real }
    }
    complete = true
  } catch (err) {
    throw asReadError(err)
  } finally {
    // An error, or the consumer stopped (its own error): nothing more will be read.
    if (!complete) input.destroy()
  }
  if (unclosedQuote) {
    throw new PlantWattError(
      'IMPORT_ERR_CSV',
      `a quote opened after line ${lastGoodLine} is never closed: the rest of the file reads as one field; fix the quote (nothing was imported)`,
      {
        details: { afterLine: lastGoodLine },
      },
    )
  }
}
