/**
 * The uploader against a real province service: indicators computed by the plant's own reports (the
 * hand-worked month of reports/testing/figures-fixture.ts), a province outage, a corrected period.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { resolveProvinceConfig, type ProvinceConfig } from '../province/config.ts'
import { startProvince, type ProvinceService } from '../province/server.ts'
import { energyReport, type ReportDeps } from '../reports/energy.ts'
import { comprehensiveReport } from '../reports/comprehensive.ts'
import { AFTER, MARCH, model, points } from '../reports/testing/figures-fixture.ts'
import { createEmbeddedStore, type TelemetryStore } from '../storage/index.ts'
import { UploadConfigSchema } from '../upload/config.ts'
import { PlantReportsProvider, type IndicatorProvider, type Indicator } from '../upload/indicators.ts'
import { startUploader } from '../upload/uploader.ts'

const H = 3_600_000
const D = 24 * H
const MAR5 = MARCH + 4 * D
const keys = generateKeyPairSync('ed25519')
const publicKey = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString()
const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

describe('the uploader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-upload-'))
  let store: TelemetryStore
  let deps: ReportDeps
  const services: ProvinceService[] = []
  const provinceConfig = (port: number): Readonly<ProvinceConfig> =>
    resolveProvinceConfig({ port, enterprises: [{ id: 'acme', name: 'Acme', city: 'wuhan', publicKey }] })

  beforeAll(async () => {
    store = createEmbeddedStore({ path: join(dir, 'plant.db') })
    await store.write(points())
    deps = { store, model, now: () => AFTER }
  })
  afterAll(async () => {
    for (const s of services) await s.close().catch(() => undefined)
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('computes the indicators with the plant reports: 15-minute, daily and monthly figures agree with energyReport', async () => {
    const p = new PlantReportsProvider(deps, 'acme')
    // 2026-03-05: only w1/l1/main runs, 100 kW all day → 25 kWh a quarter, 2400 kWh the day, 294.96 kgce
    const quarters = await p.indicators('15m', { start: MAR5, end: MAR5 + D })
    expect(quarters).toHaveLength(96)
    expect(quarters.every((q) => q.subject === 'boundary' && Math.abs(q.value - 25) < 1e-9)).toBe(true)
    const day = await p.indicators('day', { start: MAR5, end: MAR5 + D })
    expect(day.map((r) => [r.indicator, r.subject, r.period, r.start, Math.round(r.value * 1e6) / 1e6])).toEqual([
      ['energy', 'boundary', 'day', MAR5, 2400],
      ['comprehensive_energy', 'boundary', 'day', MAR5, 294.96],
    ])
    const month = await p.indicators('month', { start: MARCH, end: MARCH + 31 * D })
    const report = await energyReport(deps, { enterprise: 'acme' }, { start: MARCH, end: MARCH + 31 * D }, 'month')
    const energy = month.find((r) => r.indicator === 'energy')
    const ce = month.find((r) => r.indicator === 'comprehensive_energy')
    const comprehensive = await comprehensiveReport(deps, { enterprise: 'acme' }, { start: MARCH, end: MARCH + 31 * D }, 'month')
    // electricity is the fixture's only carrier: the boundary electricity of the comprehensive report is the plant's energy figure
    expect(energy).toMatchObject({ subject: 'boundary', carrier: 'electricity', unit: 'kWh' })
    expect(energy?.value).toBeCloseTo(report.energyKwh, 6)
    expect(ce?.value).toBe(comprehensive.kgce)
    expect(ce?.value).toBeCloseTo(report.energyKwh * 0.1229, 6)
    expect(ce?.unit).toBe('kgce')
    expect(ce?.basis).toContain('GB/T 2589-2020')
    expect(month.find((r) => r.indicator === 'output')).toMatchObject({ subject: 'product/clinker', unit: 't' })
    const output = month.find((r) => r.indicator === 'output')?.value ?? 0
    const sec = month.find((r) => r.indicator === 'unit_consumption')
    expect(sec?.subject).toBe('product/clinker')
    // graded in kgce/t where the reference grades electricity-only clinker, else kWh/t ungraded
    const line = await energyReport(deps, { enterprise: 'acme', site: 'w1', line: 'l1' }, { start: MARCH, end: MARCH + 31 * D }, 'month')
    expect(sec?.value).toBeCloseTo(sec?.unit === 'kWh/t' ? line.energyKwh / output : (line.energyKwh * 0.1229) / output, 6)
  })

  it('backfills a month, rides out a province outage, and re-sends a corrected period as a new revision', async () => {
    const first = await startProvince(provinceConfig(0), { storePath: join(dir, 'province.sqlite') })
    services.push(first)
    const port = Number(new URL(first.url).port)
    let value = 1
    const provider: IndicatorProvider = {
      name: 'fixture reports with a correctable day',
      indicators: async (kind, range) => {
        const real = await new PlantReportsProvider(deps, 'acme').indicators(kind, range)
        const extra: Indicator[] =
          kind === 'day' && range.start <= MAR5 && MAR5 < range.end
            ? [{ indicator: 'output', subject: 'product/extra', period: 'day', start: MAR5, end: MAR5 + D, value, unit: 't', basis: 'test' }]
            : []
        return [...real, ...extra]
      },
    }
    const cfg = validateConfig(UploadConfigSchema, {
      url: first.url,
      dataDir: join(dir, 'outbox'),
      backfillDays: 40,
      recheckDays: 31,
      intervalS: 3600,
      initialBackoffMs: 1,
      maxBackoffMs: 5,
    })
    let clock = AFTER
    const uploader = startUploader(cfg, 'acme', { provider, timezone: 'Asia/Shanghai', now: () => clock, keyPem })
    await uploader.tick()
    const sent = uploader.stats()
    expect(sent.outbox.pending).toBe(0)
    expect(sent.outbox.rejected).toBe(0)
    const atProvince = first.store.counts().records
    expect(atProvince).toBe(sent.outbox.acked)
    const overview = (await first.app.inject({ method: 'GET', url: '/api/v1/enterprises?month=2026-03' })).json() as {
      enterprises: { quality: Record<string, unknown>; comprehensiveEnergyTce: number }[]
    }
    // 31 days × 96 quarters expected; the plant's reports give 2026-03-10 (the first day of the 48 h gap)
    // no data, so those 96 quarters are not uploaded; a backfill is late by definition
    expect(overview.enterprises[0]?.quality).toMatchObject({
      expected: 2976,
      received: 2880,
      late: 2880,
      completeness: 2880 / 2976,
      timeliness: 0,
      missingDays: 0,
      missingMonthly: 0,
    })
    expect(overview.enterprises[0]?.quality.consistency).toEqual([{ carrier: 'electricity', deviationPct: 0, days: 31 }])

    // outage: the province is down, the correction waits in the outbox
    await first.close()
    value = 2
    clock += H // the hourly recheck recomputes the recent days
    await uploader.tick()
    expect(uploader.stats()).toMatchObject({ outbox: { pending: 1, rejected: 0 }, revised: 1 })
    expect(uploader.stats().lastError).toMatch(/no answer/)
    const second = await startProvince(provinceConfig(port), { storePath: join(dir, 'province.sqlite') })
    services.push(second)
    await new Promise((r) => setTimeout(r, 10))
    await uploader.tick()
    expect(uploader.stats().outbox.pending).toBe(0)
    expect(second.store.revisions('acme', 'output', 'product/extra', '', 'day', MAR5)).toMatchObject([
      { revision: 0, value: 1 },
      { revision: 1, value: 2 },
    ])
    expect(second.store.counts().records).toBe(atProvince + 1)
    await uploader.close()
  })
})
