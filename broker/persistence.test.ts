import mqtt from 'mqtt'
import aedesPersistence from 'aedes-persistence'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { createIndexedMemoryPersistence, type IndexedMemoryPersistence, type QueuedPacket } from './persistence.ts'
import { startBroker } from './server.ts'
import { mulberry32 as prng } from '../simulators/prng.ts'

/** aedes-persistence's own memory persistence through the same promise API Aedes 1.2 uses. */
/** aedes-persistence is CommonJS: the default import is its factory (its types say otherwise). */
const memoryPersistence = aedesPersistence as unknown as () => unknown
type Reference = Pick<
  IndexedMemoryPersistence,
  'setup' | 'outgoingEnqueue' | 'outgoingEnqueueCombi' | 'outgoingUpdate' | 'outgoingClearMessageId' | 'outgoingStream'
>

async function streamed(p: Reference, clientId: string): Promise<string[]> {
  const out: string[] = []
  for await (const packet of p.outgoingStream({ id: clientId })) {
    const q = packet as QueuedPacket
    out.push(`${q.brokerId}/${q.brokerCounter}/${q.messageId}/${String(q.topic)}`)
  }
  return out
}

async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    const r = (await run()) as QueuedPacket | undefined
    return r === undefined ? 'ok' : `packet ${r.brokerId}/${r.brokerCounter}/${r.messageId}/${String(r.topic)}`
  } catch (err) {
    return `error ${(err as Error).message}`
  }
}

describe('indexed memory persistence: outgoing QoS 1 queue', () => {
  it('works a queue through by hand: update sets the id, PUBACK removes the first match', async () => {
    const p = createIndexedMemoryPersistence()
    const c = { id: 'ingest' }
    for (const n of [1, 2, 3])
      await p.outgoingEnqueue({ clientId: 'ingest' }, { cmd: 'publish', topic: `t${n}`, payload: Buffer.from('x'), qos: 1, brokerId: 'b', brokerCounter: n })
    // Sent: messages 1 and 2 get ids 7 and 8; 3 is still unsent (messageId undefined).
    await p.outgoingUpdate(c, { brokerId: 'b', brokerCounter: 1, messageId: 7 })
    await p.outgoingUpdate(c, { brokerId: 'b', brokerCounter: 2, messageId: 8 })
    expect(await streamed(p, 'ingest')).toEqual(['b/1/7/t1', 'b/2/8/t2', 'b/3/undefined/t3'])
    expect((await p.outgoingClearMessageId(c, { messageId: 8 }))?.topic).toBe('t2')
    expect(await p.outgoingClearMessageId(c, { messageId: 8 })).toBeUndefined()
    await expect(p.outgoingUpdate(c, { brokerId: 'b', brokerCounter: 9, messageId: 1 })).rejects.toThrow('no such packet')
    expect(p.outgoingSize('ingest')).toBe(2)
    expect(await streamed(p, 'ingest')).toEqual(['b/1/7/t1', 'b/3/undefined/t3'])
  })

  it('gives the same results as aedes-persistence on 300 random sequences (ids wrapping, two brokers, duplicates)', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = prng(seed)
      const ref = memoryPersistence() as unknown as Reference
      const ours = createIndexedMemoryPersistence()
      const clients = ['a', 'b']
      let counter = 0
      const log: string[] = []
      for (let step = 0; step < 120; step++) {
        const clientId = clients[Math.floor(rnd() * clients.length)] as string
        const client = { id: clientId }
        const r = rnd()
        // Few message ids (1–6) and two broker ids, so that collisions, stale ids after a wrap and
        // packets of another broker happen often.
        const messageId = rnd() < 0.1 ? undefined : 1 + Math.floor(rnd() * 6)
        const brokerId = rnd() < 0.8 ? 'b1' : 'b2'
        let op: string
        let a: string
        let b: string
        if (r < 0.35) {
          const c = rnd() < 0.1 && counter > 0 ? counter : ++counter
          const make = (): object => ({ cmd: 'publish', topic: `t${step}`, payload: Buffer.from('x'), qos: 1, brokerId, brokerCounter: c })
          const subs = rnd() < 0.2 ? [{ clientId: 'a' }, { clientId: 'b' }, { clientId: 'a' }] : [{ clientId }]
          op = `enqueue ${brokerId}/${c} → ${subs.map((s) => s.clientId).join(',')}`
          a = await outcome(() => ref.outgoingEnqueueCombi(subs, make()))
          b = await outcome(() => ours.outgoingEnqueueCombi(subs, make()))
        } else if (r < 0.7) {
          const c = 1 + Math.floor(rnd() * Math.max(counter, 1))
          const make = (): QueuedPacket => ({ cmd: 'publish', topic: `u${step}`, qos: 1, brokerId, brokerCounter: c, messageId })
          op = `update ${brokerId}/${c} id ${messageId} on ${clientId}`
          a = await outcome(() => ref.outgoingUpdate(client, make()))
          b = await outcome(() => ours.outgoingUpdate(client, make()))
        } else {
          op = `clear id ${messageId} on ${clientId}`
          a = await outcome(() => ref.outgoingClearMessageId(client, { messageId }))
          b = await outcome(() => ours.outgoingClearMessageId(client, { messageId }))
        }
        log.push(op)
        expect(b, `seed ${seed}: ${log.join('; ')}`).toBe(a)
        for (const id of clients) expect(await streamed(ours, id), `seed ${seed} queue ${id}: ${log.join('; ')}`).toEqual(await streamed(ref, id))
      }
    }
  })
})

describe('indexed memory persistence: subscriptions by topic', () => {
  it('answers from the cache and drops it when subscriptions change', async () => {
    const p = createIndexedMemoryPersistence()
    await p.setup({ id: 'b1' })
    const topic = 'pw/v1/e1/s1/l1/m1/data'
    const who = async (): Promise<string[]> => ((await p.subscriptionsByTopic(topic)) as { clientId: string }[]).map((s) => s.clientId).sort()
    expect(await who()).toEqual([])
    await p.addSubscriptions({ id: 'ingest' }, [{ topic: 'pw/v1/+/+/+/+/data', qos: 1 }])
    expect(await who()).toEqual(['ingest'])
    // Asked twice: the second answer is the cached array itself.
    expect(await p.subscriptionsByTopic(topic)).toBe(await p.subscriptionsByTopic(topic))
    await p.addSubscriptions({ id: 'alerts' }, [{ topic: 'pw/#', qos: 1 }])
    expect(await who()).toEqual(['alerts', 'ingest'])
    await p.removeSubscriptions({ id: 'alerts' }, ['pw/#'])
    expect(await who()).toEqual(['ingest'])
    // QoS 0 subscriptions are not persistent: the QoS 1 one it replaces leaves the answer.
    await p.addSubscriptions({ id: 'ingest' }, [{ topic: 'pw/v1/+/+/+/+/data', qos: 0 }])
    expect(await who()).toEqual([])
    await p.addSubscriptions({ id: 'ingest' }, [{ topic: 'pw/v1/+/+/+/+/data', qos: 1 }])
    expect(await who()).toEqual(['ingest'])
    await p.cleanSubscriptions({ id: 'ingest' })
    expect(await who()).toEqual([])
  })
})

describe('broker with the indexed persistence', () => {
  it('queues QoS 1 messages for an offline persistent session and delivers them in order on reconnect', async () => {
    const broker = await startBroker({ host: '127.0.0.1', port: 0, sysIntervalMs: 0 }, { logger: silentLogger() })
    try {
      const topic = 'pw/v1/e1/s1/l1/m1/data'
      const durable = await mqtt.connectAsync(broker.url, { clientId: 'durable', clean: false, reconnectPeriod: 0 })
      await durable.subscribeAsync(topic, { qos: 1 })
      await durable.endAsync()
      const pub = await mqtt.connectAsync(broker.url, { clientId: 'pub', reconnectPeriod: 0 })
      for (let seq = 1; seq <= 5; seq++)
        await pub.publishAsync(topic, JSON.stringify({ seq, samples: [{ ts: Date.UTC(2025, 0, 1) + seq, values: { active_power_kw: seq } }] }), { qos: 1 })
      await pub.endAsync()
      // Back with the same id: the five queued messages, oldest first, then nothing more once acked.
      const seqs: number[] = []
      const back = mqtt.connect(broker.url, { clientId: 'durable', clean: false, reconnectPeriod: 0 })
      await new Promise<void>((resolve) => {
        back.on('message', (_t, payload) => {
          seqs.push((JSON.parse(payload.toString()) as { seq: number }).seq)
          if (seqs.length === 5) resolve()
        })
      })
      await back.endAsync()
      expect(seqs).toEqual([1, 2, 3, 4, 5])
      const again = mqtt.connect(broker.url, { clientId: 'durable', clean: false, reconnectPeriod: 0 })
      const late: number[] = []
      again.on('message', (_t, payload) => late.push((JSON.parse(payload.toString()) as { seq: number }).seq))
      await new Promise<void>((resolve) => again.once('connect', () => resolve()))
      await new Promise((r) => setTimeout(r, 200))
      await again.endAsync()
      expect(late).toEqual([])
    } finally {
      await broker.close()
    }
  })
})
