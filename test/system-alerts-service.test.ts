import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { loadAlerts, transitionToEvent, type AlertNotification } from '../alerts/events.ts'
import { startAlertService } from '../alerts/service.ts'
import { SystemAlerts } from '../alerts/system-alerts.ts'
import { startBroker } from '../broker/index.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { waitFor } from '../ingest/test-helpers.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { openEventLog } from '../storage/events.ts'

/**
 * A storage-fault alert across a restart of the alert service: rebuilt from the event log (not
 * opened twice while the fault lasts), acknowledged through the API's events, and cleared by the
 * ingest state retained on the broker once the store writes again. Real broker, embedded log.
 */

const logger = silentLogger()
const STATE_TOPIC = 'pw/sys/ingest/plantwatt-ingest-pc1'
let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

describe('storage-fault alert across a restart', () => {
  it('restored from the log, not opened again while the fault lasts, acknowledged through the log, cleared by the retained state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-system-alerts-svc-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, 'plantwatt.db')
    const store = createEmbeddedStore({ path })
    const events = await openEventLog({ backend: 'embedded', path })
    cleanups.push(async () => {
      await events.close()
      await store.close()
    })
    // What the service wrote before it stopped: the alert opened 10 minutes ago.
    const since = Date.now() - 600_000
    const fault = { code: 'STORAGE_ERR_FULL', message: 'SQLITE_FULL: database or disk is full', since }
    const [opened] = new SystemAlerts({ now: () => since }).ingestState({ clientId: 'plantwatt-ingest-pc1', connected: true, storeError: fault })
    if (!opened) throw new Error('no alert')
    await events.append([transitionToEvent(opened)])

    const broker = await startBroker({ host: '127.0.0.1', port: 0 }, { logger })
    cleanups.push(() => broker.close())
    const ingestSide = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 })
    cleanups.push(() => ingestSide.endAsync(true))
    const state = (body: object) =>
      ingestSide.publishAsync(STATE_TOPIC, JSON.stringify({ ts: Date.now(), clientId: 'plantwatt-ingest-pc1', ...body }), { qos: 1, retain: true })
    await state({ connected: true, storeError: fault })

    const seen: AlertNotification[] = []
    const svc = await startAlertService({
      mqtt: { url: broker.url, reconnectPeriodMs: 100 },
      store,
      events,
      plant: validateConfig(PlantModelSchema, { enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'main' }] }] }] }] }),
      rules: [],
      settings: { tickMs: 100, pollEventsMs: 100 },
      onEvent: (n) => seen.push(n),
      logger,
    })
    cleanups.push(() => svc.close())
    await waitFor('the retained state read', () => (svc.stats().ingestStates > 0 ? true : undefined))
    expect(svc.openAlerts().map((a) => [a.id, a.rule, a.ruleKind, a.state])).toEqual([[opened.alert.id, 'storage-fault', 'storage-fault', 'firing']])
    expect(seen).toEqual([]) // the same fault: nothing new

    // An operator acknowledges through the API (an event in the log); the service applies it.
    await events.append([
      transitionToEvent({
        ...opened,
        event: 'acknowledged',
        ts: Date.now(),
        user: 'li-wei',
        comment: 'moving old logs',
        alert: { ...opened.alert, state: 'acknowledged' },
      }),
    ])
    await svc.pollEvents()
    expect(svc.openAlerts()[0]?.state).toBe('acknowledged')
    expect(seen.map((n) => [n.event, n.user])).toEqual([['acknowledged', 'li-wei']])

    await state({ connected: true, received: 10 })
    const cleared = await waitFor('the alert cleared', () => seen.find((n) => n.event === 'cleared'))
    expect(cleared).toMatchObject({ alertId: opened.alert.id, user: '', quantity: 'STORAGE_ERR_FULL' })
    expect(cleared.value).toBeGreaterThanOrEqual(10) // minutes the fault lasted
    await svc.flush()
    const [logged] = await loadAlerts(events, { start: since - 1, stop: Date.now() + 1, filter: { rule: 'storage-fault' } })
    expect(logged?.history.map((h) => [h.event, h.user])).toEqual([
      ['opened', ''],
      ['acknowledged', 'li-wei'],
      ['cleared', ''],
    ])
  }, 30_000)
})
