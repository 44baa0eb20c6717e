import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfigText, validateConfig } from '../core/config.ts'
import { MqttClientConfigSchema } from '../core/mqtt.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { IngestConfigSchema } from './config.ts'

describe('ingest config', () => {
  it('fills every default from an empty section', () => {
    expect(validateConfig(IngestConfigSchema, {})).toEqual({
      batchSize: 5000,
      flushIntervalMs: 100,
      maxPayloadBytes: 256 * 1024,
      maxInFlightMessages: 10_000,
      retry: { initialMs: 200, maxMs: 10_000 },
      deadLetterMemory: 1000,
      conflictWindowSamples: 100_000,
      stateIntervalMs: 10_000,
    })
    // Smaller than one payload (10,000 samples) would miss repeats inside a payload.
    expect(() => validateConfig(IngestConfigSchema, { conflictWindowSamples: 9999 })).toThrow(
      expect.objectContaining({ details: [expect.objectContaining({ path: '/conflictWindowSamples' })] }),
    )
  })

  it('fills retry defaults inside a partial retry section and reports every bad key', () => {
    expect(validateConfig(IngestConfigSchema, { retry: { maxMs: 500 } }).retry).toEqual({ initialMs: 200, maxMs: 500 })
    expect(() => validateConfig(IngestConfigSchema, { batchSize: 0, retry: { initialMs: -1 }, partition: { index: 0 }, extra: 1 })).toThrow(
      expect.objectContaining({
        details: expect.arrayContaining([
          expect.objectContaining({ path: '/batchSize' }),
          expect.objectContaining({ path: '/retry/initialMs' }),
          expect.objectContaining({ path: '/partition' }),
          expect.objectContaining({ path: '/extra', message: 'unknown key' }),
        ]),
      }),
    )
  })

  it('accepts the sample config', () => {
    const file = join(import.meta.dirname, 'examples', 'ingest.yaml')
    const doc = parseConfigText(readFileSync(file, 'utf8'), file) as Record<string, unknown>
    const ingest = validateConfig(IngestConfigSchema, doc.ingest, file)
    expect(ingest).toMatchObject({ batchSize: 5000, deadLetterFile: './data/dead-letters.jsonl', retry: { initialMs: 200, maxMs: 10_000 } })
    expect(validateConfig(MqttClientConfigSchema, doc.mqtt, file).clientId).toBe('plantwatt-ingest-1')
    expect(validateConfig(PlantModelSchema, doc.plant, file).strict).toBe(false)
  })
})
