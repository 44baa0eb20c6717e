/**
 * Memory while an OPC UA server stays away (issue 19: ~5.6 MB a minute, never released). The
 * 30-minute soak is `node --expose-gc --import tsx bench/opcua-outage.ts`; here the same measurement
 * runs in its own process for 30 s at ten reconnect attempts a second (~300 attempts; the old
 * driver kept a certificate store — ~32 kB of heap and five folder watchers — per attempt, ~10 MB
 * over this run).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import type { OutageMemory } from '../../bench/opcua-outage.ts'

const SCRIPT = fileURLToPath(new URL('../../bench/opcua-outage.ts', import.meta.url))

describe('OPC UA outage memory', () => {
  it('heap stays flat over 300 failed reconnects to a killed server', { timeout: 120_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', SCRIPT, '--seconds', '30', '--poll-ms', '100'], {
      timeout: 110_000,
    })
    const m = JSON.parse(stdout.trim().split('\n').at(-1) as string) as OutageMemory
    expect(m.attempts).toBeGreaterThanOrEqual(150)
    // every failed attempt published its points bad
    expect(m.badResults).toBeGreaterThanOrEqual(m.attempts)
    // the old driver: ~32 kB of heap per attempt (≥ 4.8 MB here) and ≥ 9 MiB/min
    expect(m.heapEndMiB - m.heapStartMiB).toBeLessThan(1.5)
    expect(m.heapSlopeMiBPerMin).toBeLessThan(2)
    expect(m.rssEndMiB - m.rssStartMiB).toBeLessThan(8)
  })
})
