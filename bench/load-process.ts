/**
 * The load side of the benchmarks, in its own process so that the broker (and ingest) measured in
 * the parent get their own core. Env PW_BENCH_LOAD = JSON LoadJob; prints one JSON result line.
 */
import { connect as tcpConnect, type Socket } from 'node:net'
import mqtt, { type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { encodePayload, type Sample } from '../core/payload.ts'
import { buildTopic } from '../core/topic.ts'

export type LoadJob =
  | { mode: 'pipeline'; url: string; publishers: number; devices: number; perDevice: number; samplesPerMessage: number; window: number; t0: number }
  | {
      mode: 'fanin'
      url: string
      publishers: number
      messages: number
      window: number
      credentials?: { username: string; password: string }[]
      subscriber?: { username: string; password: string }
    }
  | { mode: 'flood'; url: string; publishers: number; seconds: number; payloadBytes: number }

export interface LoadResult {
  sent: number
  received: number
  seconds: number
  /** CPU seconds this load process used in its timed section. */
  cpuSeconds?: number
}

function sampleFor(device: number, i: number, t0: number): Sample {
  const kw = 100 + ((device * 7 + i) % 50)
  return { ts: t0 + i * 1000, values: { active_power_kw: kw, energy_import_kwh: 1000 + i * 0.03, frequency_hz: 50 + ((i % 10) - 5) / 100 } }
}

/** Sends `count` messages built by `make`, keeping at most `window` unacknowledged. */
async function windowed(client: MqttClient, count: number, window: number, make: (i: number) => [string, Buffer]): Promise<void> {
  let next = 0
  await new Promise<void>((resolve, reject) => {
    let inFlight = 0
    let done = 0
    const pump = (): void => {
      while (inFlight < window && next < count) {
        const [topic, payload] = make(next++)
        inFlight++
        client.publish(topic, payload, { qos: 1 }, (err) => {
          if (err) return reject(err)
          inFlight--
          if (++done === count) resolve()
          else pump()
        })
      }
    }
    if (count === 0) resolve()
    else pump()
  })
}

/** MQTT message ids run 1…65535 and around. */
function messageIdOf(i: number): number {
  return (i % 65535) + 1
}

/**
 * A QoS 1 publisher on a bare TCP socket (mqtt-packet frames, MQTT 3.1.1): sends pre-encoded
 * PUBLISH frames keeping at most `window` unacknowledged, checks every PUBACK's id.
 */
class BarePublisher {
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 })
  private onPacket: (packet: mqttPacket.Packet) => void = () => undefined
  private failed: Error | undefined

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk))
    this.parser.on('packet', (packet: mqttPacket.Packet) => this.onPacket(packet))
    this.parser.on('error', (err: Error) => this.fail(err))
    socket.on('error', (err) => this.fail(err))
    socket.on('close', () => this.fail(new Error('connection closed by the broker')))
  }

  private fail(err: Error): void {
    this.failed ??= err
    this.onPacket({ cmd: 'disconnect' })
  }

  static async connect(url: string, clientId: string): Promise<BarePublisher> {
    const { hostname, port } = new URL(url)
    const socket = tcpConnect({ host: hostname, port: Number(port), noDelay: true })
    const publisher = new BarePublisher(socket)
    await new Promise<void>((resolve, reject) => {
      publisher.onPacket = (packet) => {
        if (packet.cmd === 'connack' && packet.returnCode === 0) resolve()
        else reject(publisher.failed ?? new Error(`connect refused: ${JSON.stringify(packet)}`))
      }
      socket.write(mqttPacket.generate({ cmd: 'connect', clientId, protocolVersion: 4, protocolId: 'MQTT', clean: true, keepalive: 0 }))
    })
    return publisher
  }

  send(frames: readonly Buffer[], window: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const inFlight = new Uint8Array(65536)
      let next = 0
      let open = 0
      let done = 0
      const pump = (): void => {
        this.socket.cork()
        while (open < window && next < frames.length) {
          const id = messageIdOf(next)
          if (inFlight[id]) {
            reject(new Error(`message id ${id} still in flight`))
            return
          }
          inFlight[id] = 1
          open++
          this.socket.write(frames[next++] as Buffer)
        }
        this.socket.uncork()
      }
      this.onPacket = (packet) => {
        if (packet.cmd !== 'puback') return reject(this.failed ?? new Error(`unexpected ${packet.cmd}`))
        const id = packet.messageId ?? 0
        if (!inFlight[id]) return reject(new Error(`PUBACK for message id ${id} not in flight`))
        inFlight[id] = 0
        open--
        if (++done === frames.length) resolve()
        else pump()
      }
      if (frames.length === 0) resolve()
      else pump()
    })
  }

  close(): void {
    this.onPacket = () => undefined
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
  }
}

async function run(job: LoadJob): Promise<LoadResult> {
  if (job.mode === 'pipeline') {
    const perPublisher = job.devices / job.publishers
    const messagesPerDevice = Math.ceil(job.perDevice / job.samplesPerMessage)
    // The PUBLISH frames (topic, JSON payload, QoS 1, message id) are encoded before the clock
    // starts, and sent by a bare socket client: the gateways' own work is not the pipeline's, and
    // on a 2-core machine mqtt.js's per-message work (~20 µs) would take CPU from the broker,
    // ingest and influxd that real gateways, on their own machines, do not.
    const frames = Array.from({ length: job.publishers }, (_, k) =>
      Array.from({ length: messagesPerDevice * perPublisher }, (_, i): Buffer => {
        const d = k * perPublisher + (i % perPublisher)
        const seq = Math.floor(i / perPublisher)
        const samples: Sample[] = []
        for (let j = seq * job.samplesPerMessage; j < Math.min((seq + 1) * job.samplesPerMessage, job.perDevice); j++) samples.push(sampleFor(d, j, job.t0))
        const topic = buildTopic({ enterprise: 'bench', site: 's1', line: 'l1', device: `m${d}` }, 'data')
        return mqttPacket.generate({
          cmd: 'publish',
          topic,
          payload: encodePayload({ seq, samples }),
          qos: 1,
          messageId: messageIdOf(i),
          retain: false,
          dup: false,
        })
      }),
    )
    const publishers = await Promise.all(frames.map((_, k) => BarePublisher.connect(job.url, `bench-pub-${k}`)))
    process.stdout.write('"start"\n')
    const started = performance.now()
    const cpu = process.cpuUsage()
    await Promise.all(publishers.map((p, k) => p.send(frames[k] as Buffer[], job.window)))
    const used = process.cpuUsage(cpu)
    const seconds = (performance.now() - started) / 1000
    for (const p of publishers) p.close()
    return { sent: messagesPerDevice * job.devices, received: 0, seconds, cpuSeconds: (used.user + used.system) / 1e6 }
  }
  if (job.mode === 'fanin') {
    const sub = await mqtt.connectAsync(job.url, { clientId: 'bench-sub', reconnectPeriod: 0, ...(job.subscriber ?? {}) })
    let received = 0
    const total = job.publishers * job.messages
    const all = new Promise<void>((resolve) => sub.on('message', () => ++received === total && resolve()))
    await sub.subscribeAsync('pw/v1/+/+/+/+/data', { qos: 1 })
    const clients = await Promise.all(
      Array.from({ length: job.publishers }, (_, k) =>
        mqtt.connectAsync(job.url, { clientId: `bench-fan-${k}`, reconnectPeriod: 0, ...(job.credentials?.[k] ?? {}) }),
      ),
    )
    const payloads = Array.from({ length: job.publishers }, (_, k) => encodePayload({ seq: k, samples: [sampleFor(k, 0, Date.UTC(2025, 0, 1))] }))
    process.stdout.write('"start"\n')
    const started = performance.now()
    await Promise.all(
      clients.map((client, k) => {
        const topic = buildTopic({ enterprise: `e${k}`, site: 's1', line: 'l1', device: `m${k}` }, 'data')
        return windowed(client, job.messages, job.window, () => [topic, payloads[k] as Buffer])
      }),
    )
    await all
    const seconds = (performance.now() - started) / 1000
    await Promise.all([...clients, sub].map((c) => c.endAsync(true)))
    return { sent: total, received, seconds }
  }
  // QoS 0 flood towards a subscriber that stops reading: what does the broker hold?
  const sub = await mqtt.connectAsync(job.url, { clientId: 'flood-sub', reconnectPeriod: 0 })
  await sub.subscribeAsync('pw/v1/+/+/+/+/data', { qos: 0 })
  let received = 0
  sub.on('message', () => received++)
  ;(sub as unknown as { stream: { pause(): void } }).stream.pause()
  const clients = await Promise.all(
    Array.from({ length: job.publishers }, (_, k) => mqtt.connectAsync(job.url, { clientId: `flood-${k}`, reconnectPeriod: 0 })),
  )
  const payload = Buffer.from(JSON.stringify({ seq: 0, samples: [{ ts: Date.UTC(2025, 0, 1), values: { active_power_kw: 1 } }], pad: undefined }))
    .toString()
    .padEnd(job.payloadBytes, ' ')
  let sent = 0
  process.stdout.write('"start"\n')
  const deadline = performance.now() + job.seconds * 1000
  const started = performance.now()
  await Promise.all(
    clients.map(async (client, k) => {
      const topic = buildTopic({ enterprise: 'flood', site: 's1', line: 'l1', device: `m${k}` }, 'data')
      while (performance.now() < deadline && client.connected) {
        // Wait for the socket to drain like any well-behaved publisher: the broker's own reading pace is the limit.
        await new Promise<void>((resolve) => client.publish(topic, payload, { qos: 0 }, () => resolve()))
        sent++
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  for (const c of [...clients, sub]) c.end(true)
  return { sent, received, seconds }
}

const job = JSON.parse(process.env.PW_BENCH_LOAD ?? '{}') as LoadJob
run(job).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    process.exit(0)
  },
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`)
    process.exit(1)
  },
)
