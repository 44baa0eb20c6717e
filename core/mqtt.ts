import Type from 'typebox'

/** How an MQTT client component (edge agent, ingest, alerts) reaches the broker. */
export const MqttClientConfigSchema = Type.Object(
  {
    url: Type.String({ default: 'mqtt://127.0.0.1:1883', description: 'broker URL: mqtt://, mqtts://, ws:// or wss://' }),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String({ description: 'prefer env PLANTWATT_MQTT_PASSWORD' })),
    clientId: Type.Optional(Type.String({ description: 'default: derived from the component and host name' })),
    keepaliveS: Type.Integer({ minimum: 5, default: 30 }),
    reconnectPeriodMs: Type.Integer({ minimum: 100, default: 1000 }),
  },
  { additionalProperties: false },
)
export type MqttClientConfig = Type.Static<typeof MqttClientConfigSchema>

/** Topic the broker diverts invalid publishes to (outside pw/v1, so plant subscriptions never see it). */
export const DEAD_LETTER_TOPIC = 'pw/dead-letter'

/**
 * Status messages of PlantWatt's own services (outside pw/v1, so plant subscriptions never see
 * them): `pw/sys/ingest/{clientId}` carries an ingest instance's counters. The broker's own
 * counters go to `$SYS/{brokerId}/plantwatt/stats` (only admins may subscribe to `$SYS`).
 */
export const SYS_TOPIC_ROOT = 'pw/sys'

/** A client id made safe as one topic level (no `/`, `+`, `#`). */
export function topicLevel(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 128) || '-'
}

/** Where an ingest instance publishes its counters (retained; its will marks it disconnected). */
export function ingestStateTopic(clientId: string): string {
  return `${SYS_TOPIC_ROOT}/ingest/${topicLevel(clientId)}`
}
