/** The uploader killed with kill -9 mid-queue loses nothing and duplicates nothing (a child process). */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveProvinceConfig } from '../province/config.ts'
import { startProvince, type ProvinceService } from '../province/server.ts'
import { startScript } from './child.ts'

describe('the uploader under kill -9', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-upload-kill-'))
  let province: ProvinceService | undefined
  afterAll(async () => {
    await province?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('sends every queued record exactly once across a kill -9 and a restart', async () => {
    const keys = generateKeyPairSync('ed25519')
    province = await startProvince(
      resolveProvinceConfig({
        port: 0,
        enterprises: [{ id: 'acme', name: 'Acme', city: 'wuhan', publicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
      }),
      { storePath: join(dir, 'province.sqlite') },
    )
    // 2026-12-03 00:00 local, two days back: 192 closed quarters
    const env = {
      PW_OUTBOX: join(dir, 'outbox.sqlite'),
      PW_PROVINCE_URL: province.url,
      PW_KEY_PEM: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      PW_NOW: String(Date.UTC(2026, 11, 2, 16)),
      PW_DAYS: '2',
    }
    const first = await startScript('upload-child.ts', env)
    expect(first.ready).toMatchObject({ queued: 192, revised: 0, unchanged: 0 })
    const p = province
    while (p.store.counts().records < 40) await sleep(5)
    await first.kill('SIGKILL')
    const atKill = p.store.counts().records
    expect(atKill).toBeGreaterThanOrEqual(40)
    expect(atKill).toBeLessThan(192)

    const second = await startScript('upload-child.ts', env)
    // the restarted uploader finds its marks: nothing computed again; what was pending is still pending
    expect(second.ready).toMatchObject({ queued: 0, revised: 0, unchanged: 0 })
    const counts = second.ready.counts as { pending: number; acked: number }
    expect(counts.pending + counts.acked).toBe(192)
    expect(counts.pending).toBeGreaterThan(0)
    const deadline = Date.now() + 30_000
    while (p.store.counts().records < 192 && Date.now() < deadline) await sleep(20)
    await sleep(200)
    await second.kill('SIGKILL')
    // every quarter once, revision 0 only; the batch in flight at the kill came back as duplicates, not new rows
    expect(p.store.counts()).toMatchObject({ records: 192, current: 192 })
    const held = p.store.enterpriseRecords('acme', 0, Number.MAX_SAFE_INTEGER, { period: '15m' })
    expect(held.every((r) => r.revision === 0 && r.value === (r.start / 900_000) % 7)).toBe(true)
    expect(new Set(held.map((r) => r.start)).size).toBe(192)
  })
})
