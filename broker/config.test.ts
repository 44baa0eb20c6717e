import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfigText, validateConfig } from '../core/config.ts'
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../core/payload.ts'
import { BrokerConfigSchema } from './config.ts'

describe('broker config', () => {
  it('fills every default from an empty section', () => {
    expect(validateConfig(BrokerConfigSchema, {})).toEqual({
      host: '127.0.0.1',
      port: 1883,
      maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
      validatePayloads: true,
      users: [],
      anonymous: 'auto',
      maxConnections: 10_000,
      publishRate: { messagesPerS: 2000, burst: 20_000 },
      sessions: {
        client: { maxQueuedMessages: 10_000, maxQueuedBytes: 16 * 1024 * 1024, expiryS: 3600 },
        ingest: { maxQueuedMessages: 200_000, maxQueuedBytes: 256 * 1024 * 1024, expiryS: 86_400 },
        sweepIntervalMs: 30_000,
      },
      loginThrottle: { addressFailures: 5, userFailures: 20, windowS: 900, maxBlockS: 300, hashesPerS: 20, maxWaiting: 200 },
      drainTimeoutMs: 10_000,
      sysIntervalMs: 10_000,
    })
  })

  it('reports every bad key at once', () => {
    expect(() =>
      validateConfig(
        BrokerConfigSchema,
        { port: 70000, maxPayloadBytes: 0, tlsPort: 8883, users: [{ username: 'gw', passwordHash: 'secret', role: 'root' }] },
        'broker.yaml',
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'CORE_ERR_CONFIG',
        details: expect.arrayContaining([
          expect.objectContaining({ path: '/port' }),
          expect.objectContaining({ path: '/maxPayloadBytes' }),
          expect.objectContaining({ path: '/tlsPort', message: 'unknown key' }),
          // A plain-text password is refused: only scrypt hashes are accepted.
          expect.objectContaining({ path: '/users/0/passwordHash' }),
          expect.objectContaining({ path: '/users/0/role' }),
        ]),
      }),
    )
  })

  it('accepts the sample config, which states the defaults', () => {
    const file = join(import.meta.dirname, 'examples', 'broker.yaml')
    const doc = parseConfigText(readFileSync(file, 'utf8'), file) as { broker: unknown }
    expect(validateConfig(BrokerConfigSchema, doc.broker, file)).toEqual(validateConfig(BrokerConfigSchema, {}))
  })
})
