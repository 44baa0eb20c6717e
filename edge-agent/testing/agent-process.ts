/**
 * Runs an edge agent as its own process for the crash tests (`disk-outbox.agent.test.ts`): the
 * config comes as JSON in argv[2] (`{ config, mqtt }`); SIGTERM closes the agent cleanly, SIGKILL
 * is the crash under test. Prints `ready` once started.
 */
import { validateConfig } from '../../core/config.ts'
import { MqttClientConfigSchema, type MqttClientConfig } from '../../core/mqtt.ts'
import { startEdgeAgent } from '../agent.ts'
import { EdgeConfigSchema, type EdgeConfig } from '../config.ts'

const arg = JSON.parse(process.argv[2] ?? '{}') as { config: unknown; mqtt: unknown }
const config = validateConfig(EdgeConfigSchema, arg.config, 'argv') as EdgeConfig
const mqtt = validateConfig(MqttClientConfigSchema, arg.mqtt, 'argv') as MqttClientConfig
const agent = await startEdgeAgent({ config, mqtt, closeDrainMs: 3000 })
process.on('SIGTERM', () => {
  void agent.close().then(() => {
    process.stdout.write(`closed ${JSON.stringify(agent.status().outbox)}\n`)
    process.exit(0)
  })
})
process.stdout.write('ready\n')
