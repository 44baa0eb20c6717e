import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDeadLetterFile } from './dead-letter-file.ts'

const tmp = mkdtempSync(join(tmpdir(), 'pw-dlf-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const entry = (ts: number, reason: string) => ({ ts, reason, message: 'm', topic: `pw/v1/a/b/c/d${ts}/data`, payload: 'x', payloadBytes: 1, source: 'ingest' })

describe('openDeadLetterFile', () => {
  it('reads what is appended, waits for a line still being written, skips foreign lines, starts again on a replaced file', () => {
    const file = join(tmp, 'dl.jsonl')
    const log = openDeadLetterFile({ file, memory: 2 })
    expect(log.list()).toEqual([]) // not written yet
    writeFileSync(file, `${JSON.stringify(entry(1, 'A'))}\nnot json\n${JSON.stringify(entry(2, 'B')).slice(0, 20)}`)
    expect(log.list().map((e) => e.ts)).toEqual([1])
    appendFileSync(file, `${JSON.stringify(entry(2, 'B')).slice(20)}\n${JSON.stringify(entry(3, 'A'))}\n`)
    expect(log.list().map((e) => e.ts)).toEqual([3, 2]) // newest first, memory 2
    expect(log.counts()).toEqual({ A: 2, B: 1 }) // the whole file
    expect(log.list({ reason: 'B' }).map((e) => e.ts)).toEqual([2])
    expect(log.list({ since: 3 }).map((e) => e.ts)).toEqual([3])
    writeFileSync(file, `${JSON.stringify(entry(9, 'C'))}\n`)
    expect(log.list().map((e) => e.ts)).toEqual([9])
    expect(log.counts()).toEqual({ C: 1 })
    expect(() => log.add(entry(10, 'C'))).toThrow(/written by ingest/)
  })
})
