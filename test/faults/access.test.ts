import mqtt from 'mqtt'
import { afterAll, expect, it } from 'vitest'
import { hashPassword } from '../../broker/index.ts'
import { startScript, type ChildScript } from '../child.ts'

let broker: ChildScript | undefined
afterAll(async () => {
  await broker?.kill('SIGTERM')
})

interface LogLine {
  msg: string
  [key: string]: unknown
}

it('fault 5: wrong credentials, a gateway publishing into another enterprise, a gateway subscribing to # — all refused and logged by the broker process', async () => {
  const users = [
    { username: 'gw-acme', passwordHash: await hashPassword('acme-pw'), role: 'gateway', enterprise: 'acme', site: 'wuhan' },
    { username: 'ingest', passwordHash: await hashPassword('ingest-pw'), role: 'ingest' },
  ]
  broker = await startScript('broker-process.ts', { PW_BROKER_CONFIG: JSON.stringify({ port: 0, users }), PW_BROKER_LOG: '1', PLANTWATT_LOG_LEVEL: 'info' })
  const url = broker.ready.url as string

  const refused = await mqtt.connectAsync(url, { clientId: 'intruder', username: 'gw-acme', password: 'guess', reconnectPeriod: 0 }).then(
    () => 0,
    (err: { code: number }) => err.code,
  )
  expect(refused).toBe(4)

  const reader = await mqtt.connectAsync(url, { clientId: 'reader', username: 'ingest', password: 'ingest-pw', reconnectPeriod: 0 })
  const seen: string[] = []
  reader.on('message', (topic) => seen.push(topic))
  await reader.subscribeAsync('pw/v1/+/+/+/+/data', { qos: 1 })

  const gw = await mqtt.connectAsync(url, { clientId: 'gw-acme-1', username: 'gw-acme', password: 'acme-pw', reconnectPeriod: 0 })
  await expect(gw.subscribeAsync('#', { qos: 0 })).rejects.toThrow(/Subscribe error/)
  const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()))
  gw.publish('pw/v1/beta-corp/plant-2/l1/meter-9/data', JSON.stringify({ seq: 1, samples: [{ ts: Date.UTC(2025, 0, 1), values: { active_power_kw: 1 } }] }), {
    qos: 1,
  })
  await closed
  await new Promise((r) => setTimeout(r, 200))
  expect(seen).toEqual([])
  await reader.endAsync()

  const logs = (
    broker
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{')) as string[]
  ).map((l) => JSON.parse(l) as LogLine)
  const warned = logs
    .filter((l) => l.level === 40)
    .map((l) => ({ msg: l.msg.split(':')[0], clientId: l.clientId, username: l.username, code: l.code, filter: l.filter, topic: l.topic }))
  expect(warned).toEqual([
    {
      msg: 'connection refused (CONNACK 4, bad username or password)',
      clientId: 'intruder',
      username: 'gw-acme',
      code: undefined,
      filter: undefined,
      topic: undefined,
    },
    { msg: 'subscription refused (SUBACK 0x80)', clientId: 'gw-acme-1', username: undefined, code: undefined, filter: '#', topic: undefined },
    {
      msg: 'publish refused; closing the connection',
      clientId: 'gw-acme-1',
      username: undefined,
      code: 'BROKER_ERR_NOT_AUTHORIZED',
      filter: undefined,
      topic: 'pw/v1/beta-corp/plant-2/l1/meter-9/data',
    },
  ])
  // No password, nor its hash, in the log.
  expect(broker.stderr()).not.toMatch(/guess|acme-pw|scrypt\$/)
})
