/**
 * The broker part of `npm run bench` alone: fan-in (50 publishers → 1 subscriber, QoS 1) on the
 * PlantWatt broker (scrypt users, topic ACL, payload validation), bare Aedes and Mosquitto, then the
 * QoS 0 flood into a stalled subscriber.
 *
 *   node --expose-gc --import tsx bench/load-brokers.ts [messagesPerPublisher=1000] [rounds=1] [floodSeconds=6]
 */
import { fanIn, type FanInResult } from './fan-in.ts'
import { qos0Flood } from './flood.ts'

const messages = Number(process.argv[2] ?? 1000)
const rounds = Number(process.argv[3] ?? 1)
const floodSeconds = Number(process.argv[4] ?? 6)
const fan: FanInResult[] = []
for (let r = 0; r < rounds; r++) {
  for (const broker of ['plantwatt', 'aedes', 'mosquitto'] as const) {
    fan.push(await fanIn(broker, messages))
    process.stderr.write(`${JSON.stringify(fan.at(-1))}\n`)
  }
}
const flood = floodSeconds > 0 ? await qos0Flood(floodSeconds) : undefined
process.stdout.write(`${JSON.stringify({ fanIn: fan, qos0Flood: flood })}\n`)
process.exit(0)
