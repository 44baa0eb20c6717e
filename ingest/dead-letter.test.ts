import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { DeadLetter } from '../core/dead-letter.ts'
import { createDeadLetterLog } from './dead-letter.ts'
import { tempDir } from './test-helpers.ts'

const letter = (ts: number, reason: string, source = 'ingest'): DeadLetter => ({
  ts,
  reason,
  message: `${reason} at ${ts}`,
  topic: 'pw/v1/acme/wuhan/l1/m1/data',
  payload: 'x',
  payloadBytes: 1,
  source,
})

const dirs: { cleanup(): void }[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup()
})

describe('dead-letter log', () => {
  it('keeps the newest N in memory, lists newest first, and counts every entry', () => {
    const log = createDeadLetterLog({ memory: 3 })
    for (let i = 1; i <= 5; i++) log.add(letter(1000 + i, i % 2 ? 'CORE_ERR_PAYLOAD_JSON' : 'CORE_ERR_TOPIC'))
    expect(log.list().map((e) => e.ts)).toEqual([1005, 1004, 1003])
    expect(log.counts()).toEqual({ CORE_ERR_PAYLOAD_JSON: 3, CORE_ERR_TOPIC: 2 })
    expect(log.list({ reason: 'CORE_ERR_PAYLOAD_JSON' }).map((e) => e.ts)).toEqual([1005, 1003])
    expect(log.list({ limit: 2 }).map((e) => e.ts)).toEqual([1005, 1004])
    expect(log.list({ since: 1004 }).map((e) => e.ts)).toEqual([1005, 1004])
    expect(log.list({ reason: 'CORE_ERR_TOPIC', since: 1004, limit: 5 }).map((e) => e.ts)).toEqual([1004])
    // counts() is a copy.
    log.counts().CORE_ERR_TOPIC = 99
    expect(log.counts().CORE_ERR_TOPIC).toBe(2)
  })

  it('with memory 0 keeps nothing in memory but still counts', () => {
    const log = createDeadLetterLog({ memory: 0 })
    log.add(letter(1, 'CORE_ERR_TOPIC'))
    expect(log.list()).toEqual([])
    expect(log.counts()).toEqual({ CORE_ERR_TOPIC: 1 })
  })

  it('appends JSON lines to a file in a folder it creates, across restarts', async () => {
    const dir = tempDir('pw-dead-')
    dirs.push(dir)
    const file = join(dir.path, 'nested', 'dead-letters.jsonl')
    const first = createDeadLetterLog({ file })
    first.add(letter(1, 'CORE_ERR_PAYLOAD_JSON', 'broker'))
    first.add(letter(2, 'CORE_ERR_TOPIC'))
    await first.close()
    const second = createDeadLetterLog({ file })
    second.add(letter(3, 'INGEST_ERR_UNKNOWN_DEVICE'))
    await second.close()
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as DeadLetter)
    expect(lines).toEqual([letter(1, 'CORE_ERR_PAYLOAD_JSON', 'broker'), letter(2, 'CORE_ERR_TOPIC'), letter(3, 'INGEST_ERR_UNKNOWN_DEVICE')])
  })
})
