import Type from 'typebox'
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../core/payload.ts'

/** The MQTT broker (Aedes): where it listens and what it lets through. */
export const BrokerConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'interface to listen on (0.0.0.0 for all)' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883, description: 'MQTT TCP port; 0 picks a free port' }),
    maxPayloadBytes: Type.Integer({
      minimum: 1,
      default: DEFAULT_MAX_PAYLOAD_BYTES,
      description: 'larger payloads are dead-lettered; packets over 4× this close the connection (bytes)',
    }),
    validatePayloads: Type.Boolean({ default: true, description: 'decode and check data payloads; invalid ones go to the dead-letter topic' }),
  },
  { additionalProperties: false },
)

export type BrokerConfig = Type.Static<typeof BrokerConfigSchema>
