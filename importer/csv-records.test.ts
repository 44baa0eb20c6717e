import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { PlantWattError, isPlantWattError } from '../core/errors.ts'
import { MAX_RECORD_CHARS, asReadError, readCsvRecords, type CsvRecord, type CsvSource } from './csv-records.ts'

async function readAll(source: CsvSource, delimiter = ','): Promise<{ records: CsvRecord[]; error?: unknown }> {
  const records: CsvRecord[] = []
  try {
    for await (const r of readCsvRecords(source, { delimiter })) records.push(r)
  } catch (error) {
    return { records, error }
  }
  return { records }
}

const lines = (records: CsvRecord[]) => records.map((r) => [r.line, r.fields])

describe('readCsvRecords', () => {
  it('yields the header and each record with the line it starts on; empty lines are skipped but counted', async () => {
    const { records, error } = await readAll({ text: 'a,b\n1,2\n\n3,4\n' })
    expect(error).toBeUndefined()
    expect(lines(records)).toEqual([
      [1, ['a', 'b']],
      [2, ['1', '2']],
      [4, ['3', '4']],
    ])
  })

  it('drops a BOM, reads CRLF line ends and the given delimiter', async () => {
    const { records } = await readAll({ text: '\uFEFFa;b\r\n1;2\r\n3;4' }, ';')
    expect(lines(records)).toEqual([
      [1, ['a', 'b']],
      [2, ['1', '2']],
      [3, ['3', '4']],
    ])
  })

  it('counts line breaks inside quoted fields as an editor does: a CRLF in quotes is one line, not two', async () => {
    const crlf = await readAll({ text: 'a,b\r\n"x\r\ny",1\r\n"p\r\nq\r\nr",2\r\nz,3\r\n' })
    expect(lines(crlf.records)).toEqual([
      [1, ['a', 'b']],
      [2, ['x\r\ny', '1']],
      [4, ['p\r\nq\r\nr', '2']],
      [7, ['z', '3']],
    ])
    const lf = await readAll({ text: 'a\n"1\n2\n3"\n4\n' })
    expect(lines(lf.records)).toEqual([
      [1, ['a']],
      [2, ['1\n2\n3']],
      [5, ['4']],
    ])
  })

  it('keeps a stray quote inside a field as data', async () => {
    const { records } = await readAll({ text: 'a,b\n6"7,"x"y\n' })
    expect(records[1]?.fields).toEqual(['6"7', '"x"y'])
  })

  it('refuses the file when a quote is never closed, after yielding the records before it', async () => {
    const { records, error } = await readAll({ text: 'a,b\n1,2\n"3,4\n5,6\n' })
    expect(lines(records)).toEqual([
      [1, ['a', 'b']],
      [2, ['1', '2']],
    ])
    expect(isPlantWattError(error, 'IMPORT_ERR_CSV')).toBe(true)
    expect((error as PlantWattError).message).toMatch(/a quote opened after line 2 is never closed/)
    expect((error as PlantWattError).details).toEqual({ afterLine: 2 })
  })

  it(`stops at a record longer than ${MAX_RECORD_CHARS} characters without reading the rest`, async () => {
    let chunks = 0
    const stream = Readable.from(
      (function* () {
        yield 'a,b\n1,2\n"'
        for (;;) {
          chunks++
          yield 'x'.repeat(1000)
        }
      })(),
    )
    // The records before it may still sit in the parser's buffer: the error comes first, and names
    // the last line the consumer was handed (header or row).
    const { error } = await readAll({ stream })
    expect(isPlantWattError(error, 'IMPORT_ERR_CSV')).toBe(true)
    expect((error as PlantWattError).message).toMatch(
      new RegExp(
        `^a record after line [12] is longer than ${MAX_RECORD_CHARS} characters \\(a quote never closed\\?\\); fix the file \\(nothing was imported\\)$`,
      ),
    )
    expect(chunks).toBeLessThan(200)
  })

  it('reports a failing source as IMPORT_ERR_READ; a coded error of the source keeps its code', async () => {
    const failing = (err: Error) =>
      new Readable({
        read() {
          this.destroy(err)
        },
      })
    const plain = await readAll({ stream: failing(new Error('socket hang up')) })
    expect(isPlantWattError(plain.error, 'IMPORT_ERR_READ')).toBe(true)
    expect((plain.error as Error).message).toBe('cannot read the body: socket hang up')
    const coded = await readAll({ stream: failing(new PlantWattError('API_ERR_BODY_TOO_LARGE', 'over the limit')) })
    expect(isPlantWattError(coded.error, 'API_ERR_BODY_TOO_LARGE')).toBe(true)
    const missing = await readAll({ path: '/nonexistent/plantwatt.csv' })
    expect(isPlantWattError(missing.error, 'IMPORT_ERR_READ')).toBe(true)
    expect((missing.error as Error).message).toMatch(/^cannot read \/nonexistent\/plantwatt\.csv: ENOENT/)
  })

  it('destroys the source when the consumer stops early', async () => {
    const stream = Readable.from(['a\n1\n2\n3\n'])
    for await (const r of readCsvRecords({ stream }, { delimiter: ',' })) {
      if (r.line === 2) break
    }
    expect(stream.destroyed).toBe(true)
  })

  it('never splits a surrogate pair of in-memory text between two chunks', async () => {
    // 64 KiB chunks: put the high half of 😀 at the last position of the first chunk.
    const row = `${'x'.repeat(99)}\n`
    let text = 'a\n'
    while (text.length + row.length < (1 << 16) - 1) text += row
    text += `${'y'.repeat((1 << 16) - 1 - text.length)}😀\n`
    const { records, error } = await readAll({ text })
    expect(error).toBeUndefined()
    expect(records.at(-1)?.fields[0]).toMatch(/^y*😀$/)
  })
})

describe('asReadError', () => {
  it('keeps a coded error and turns anything else into IMPORT_ERR_READ with its cause', () => {
    const coded = new PlantWattError('IMPORT_ERR_LAYOUT', 'no timestamp column')
    expect(asReadError(coded)).toBe(coded)
    const cause = new Error('disk full')
    const wrapped = asReadError(cause)
    expect(wrapped.code).toBe('IMPORT_ERR_READ')
    expect(wrapped.message).toBe('cannot read the CSV: disk full')
    expect(wrapped.cause).toBe(cause)
  })
})
