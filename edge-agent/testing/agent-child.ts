/**
 * An edge agent in its own process for the fault tests (`test/faults/edge-*.test.ts`, started with
 * `startScript` from test/child.ts): env PW_EDGE = JSON `{ config, mqtt }` (the `edge` and `mqtt`
 * config sections). Prints `{"ready":true,"pid":…}` once started; on SIGTERM it closes cleanly and
 * prints `{"closed":<status()>}` before exiting 0; SIGKILL is the crash under test.
 */
import { validateConfig } from '../../core/config.ts'
import { MqttClientConfigSchema, type MqttClientConfig } from '../../core/mqtt.ts'
import { startEdgeAgent } from '../agent.ts'
import { EdgeConfigSchema, type EdgeConfig } from '../config.ts'

const env = JSON.parse(process.env.PW_EDGE ?? '{}') as { config?: unknown; mqtt?: unknown }
const config = validateConfig(EdgeConfigSchema, env.config ?? {}, 'PW_EDGE.config') as EdgeConfig
const mqtt = validateConfig(MqttClientConfigSchema, env.mqtt ?? {}, 'PW_EDGE.mqtt') as MqttClientConfig
const agent = await startEdgeAgent({ config, mqtt, closeDrainMs: 5000 })
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`)
process.once('SIGTERM', () => {
  void agent.close().then(() => {
    process.stdout.write(`${JSON.stringify({ closed: agent.status() })}\n`)
    process.exit(0)
  })
})
