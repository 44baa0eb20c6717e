import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import mqtt from 'mqtt'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import type { AlertNotification } from '../alerts/events.ts'
import { startAlertService } from '../alerts/service.ts'
import { startBroker } from '../broker/index.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { waitFor } from '../ingest/test-helpers.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { openEventLog } from '../storage/events.ts'
import { freePort } from './influxd.ts'
import { requireCommand } from './system.ts'

/**
 * The alert service on brokers whose ACL does not let it read ingest's state: a real Mosquitto with
 * an acl_file (grants the subscription and delivers nothing) and PlantWatt's broker with an
 * authorizeSubscribe seam (SUBACK 0x80). Either way it starts, and device alerts go on; a refusal is
 * a warning that storage-fault alerts are off.
 */

let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

/** Mosquitto on a free port; anonymous clients may read pw/v1/# and write only alert topics. */
async function mosquittoWithAcl(): Promise<string> {
  requireCommand('mosquitto', 'mosquitto')
  const dir = mkdtempSync(join(tmpdir(), 'pw-mosq-acl-'))
  const port = await freePort()
  writeFileSync(join(dir, 'acl'), ['topic read pw/v1/#', 'topic write pw/v1/+/+/+/+/alert', 'topic write pw/v1/+/+/+/+/data', ''].join('\n'))
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', `acl_file ${join(dir, 'acl')}`, 'log_dest stderr', 'log_type error', ''].join(
      '\n',
    ),
  )
  // Started as root, Mosquitto drops to its own user before it reads the ACL file.
  chmodSync(dir, 0o755)
  const child = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] })
  cleanups.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })
  await waitFor(
    'mosquitto listening',
    () =>
      new Promise<true | undefined>((resolve) => {
        const s = connect(port, '127.0.0.1')
        s.once('connect', () => {
          s.destroy()
          resolve(true)
        })
        s.once('error', () => resolve(undefined))
      }),
    10_000,
  )
  return `mqtt://127.0.0.1:${port}`
}

/** The service on `url` with one threshold rule: its warnings, and a device alert raised through it. */
async function serviceRaisesDeviceAlert(url: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-alerts-foreign-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'plantwatt.db')
  const store = createEmbeddedStore({ path })
  const events = await openEventLog({ backend: 'embedded', path })
  cleanups.push(async () => {
    await events.close()
    await store.close()
  })
  const lines: string[] = []
  const logger = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, done) => done(void lines.push(chunk.toString('utf8'))) }))
  const seen: AlertNotification[] = []
  const svc = await startAlertService({
    mqtt: { url, reconnectPeriodMs: 100 },
    store,
    events,
    plant: validateConfig(PlantModelSchema, { enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'main' }] }] }] }] }),
    rules: [{ id: 'power-high', kind: 'threshold', quantity: 'active_power_kw', above: 100, for: '0', clearAfter: '0' }],
    settings: { tickMs: 100, pollEventsMs: 100 },
    onEvent: (n) => seen.push(n),
    logger,
    connectTimeoutMs: 5000,
  })
  cleanups.push(() => svc.close())
  const pub = await mqtt.connectAsync(url, { reconnectPeriod: 0 })
  cleanups.push(() => pub.endAsync(true))
  await pub.publishAsync('pw/v1/acme/wuhan/l1/main/data', JSON.stringify({ seq: 1, samples: [{ ts: Date.now(), values: { active_power_kw: 150 } }] }), {
    qos: 1,
  })
  const opened = await waitFor('the device alert', () => seen.find((n) => n.event === 'opened'))
  expect(opened).toMatchObject({ rule: 'power-high', device: 'main', value: 150 })
  return lines.join('')
}

describe('alert service on a broker that does not let it read ingest state', () => {
  it('Mosquitto with an ACL (subscription granted, nothing delivered): starts and raises device alerts', async () => {
    const warnings = await serviceRaisesDeviceAlert(await mosquittoWithAcl())
    expect(warnings).not.toContain('ALERTS_ERR')
  }, 30_000)

  it('a broker that refuses the subscription (SUBACK 0x80): starts, warns that storage-fault alerts are off, raises device alerts', async () => {
    const broker = await startBroker(
      { host: '127.0.0.1', port: 0 },
      { logger: silentLogger(), authorizeSubscribe: ({ topic }) => !topic.startsWith('pw/sys/') },
    )
    cleanups.push(() => broker.close())
    const warnings = await serviceRaisesDeviceAlert(broker.url)
    expect(warnings).toContain('subscription to the ingest state refused: no storage-fault alerts')
  }, 30_000)
})
