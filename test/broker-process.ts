/**
 * A PlantWatt broker in its own process, for tests that kill it: `node --import tsx
 * test/broker-process.ts` with the broker config as JSON in PW_BROKER_CONFIG. Prints one line
 * `{"url": ...}` on stdout once listening (PW_BROKER_LOG=1: the production log on stderr); SIGTERM closes it, SIGKILL is the fault under test.
 */
import { createLogger, silentLogger } from '../core/logger.ts'
import { startBroker, type BrokerConfigInput } from '../broker/index.ts'

const config = JSON.parse(process.env.PW_BROKER_CONFIG ?? '{}') as BrokerConfigInput
const broker = await startBroker(config, { logger: process.env.PW_BROKER_LOG === '1' ? createLogger('broker') : silentLogger() })
process.stdout.write(`${JSON.stringify({ url: broker.url, port: broker.port })}\n`)
process.once('SIGTERM', () => {
  void broker.close().then(() => process.exit(0))
})
