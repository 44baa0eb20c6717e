import net from 'node:net'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { busRegistry, type LineLocation, lineKey, SharedLink } from './shared-link.ts'

/** A bus that records what it hears. */
class Recorder extends SharedLink {
  readonly chunks: string[] = []
  readonly losses: string[] = []
  send(text: string): void {
    this.link?.write(Buffer.from(text))
  }
  protected received(chunk: Buffer): void {
    this.chunks.push(chunk.toString())
  }
  protected lost(why: string): void {
    this.losses.push(why)
  }
}

let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

/** An echo server that counts its connections. */
async function echo(): Promise<{ loc: LineLocation; connections: () => number; sockets: Set<net.Socket> }> {
  let n = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    n++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('data', (d) => s.write(d))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { loc: { transport: 'tcp', host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, connections: () => n, sockets }
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('SharedLink', () => {
  it('opens one link for every holder, closes it with the last release, and opens it again on the next acquire', async () => {
    const e = await echo()
    const bus = new Recorder(lineKey('t', e.loc), e.loc)
    const signal = new AbortController().signal
    await Promise.all([bus.acquire(signal, 1000), bus.acquire(signal, 1000)])
    expect(e.connections()).toBe(1)
    bus.send('ping')
    await wait(50)
    expect(bus.chunks.join('')).toBe('ping')
    bus.release()
    expect(bus.isOpen).toBe(true)
    bus.release()
    expect(bus.isOpen).toBe(false)
    await bus.acquire(signal, 1000)
    expect(e.connections()).toBe(2)
    bus.release()
  })

  it('hears of a lost link once, and reconnects on the next acquire', async () => {
    const e = await echo()
    const bus = new Recorder(lineKey('t', e.loc), e.loc)
    await bus.acquire(new AbortController().signal, 1000)
    for (const s of e.sockets) s.destroy()
    await wait(50)
    expect(bus.isOpen).toBe(false)
    expect(bus.losses).toHaveLength(1)
    expect(bus.losses[0]).toMatch(/link lost/)
    await bus.acquire(new AbortController().signal, 1000)
    expect(bus.isOpen).toBe(true)
    expect(e.connections()).toBe(2)
    bus.release()
    bus.release()
  })

  it('runs exclusive sections one at a time, in order', async () => {
    const e = await echo()
    const bus = new Recorder(lineKey('t', e.loc), e.loc)
    const order: string[] = []
    const section = (name: string, ms: number) =>
      bus.exclusive(async () => {
        order.push(`${name}+`)
        await wait(ms)
        order.push(`${name}-`)
      })
    await Promise.all([section('a', 30), section('b', 5), section('c', 1)])
    expect(order).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-'])
  })

  it('fails with EDGE_ERR_CONNECT naming the line when nothing listens', async () => {
    const loc: LineLocation = { transport: 'tcp', host: '127.0.0.1', port: 1 }
    const bus = new Recorder(lineKey('t', loc), loc)
    await expect(bus.acquire(new AbortController().signal, 500)).rejects.toMatchObject({
      code: 'EDGE_ERR_CONNECT',
      message: expect.stringContaining('t-tcp://127.0.0.1:1'),
    })
    expect(bus.isOpen).toBe(false)
  })

  it('the registry hands out one bus per key', () => {
    const make = busRegistry((key, loc) => new Recorder(key, loc))
    const loc: LineLocation = { transport: 'serial', path: '/dev/ttyS9', baudRate: 2400, parity: 'even', dataBits: 8, stopBits: 1 }
    expect(make(lineKey('x', loc), loc)).toBe(make(lineKey('x', loc), loc))
    expect(make(lineKey('y', loc), loc)).not.toBe(make(lineKey('x', loc), loc))
    expect(lineKey('x', loc)).toBe('x:/dev/ttyS9')
  })
})
