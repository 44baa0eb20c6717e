import type { MqttClient } from 'mqtt'
import { hostname } from 'node:os'
import Type from 'typebox'
import { ID_PATTERN } from './topic.ts'

const clientProperties = {
  url: Type.String({ default: 'mqtt://127.0.0.1:1883', description: 'broker URL: mqtt://, mqtts://, ws:// or wss://' }),
  username: Type.Optional(Type.String()),
  password: Type.Optional(Type.String({ description: 'prefer env PLANTWATT_MQTT_PASSWORD' })),
  clientId: Type.Optional(Type.String({ description: 'default: derived from the component and host name' })),
  keepaliveS: Type.Integer({ minimum: 5, default: 30 }),
  reconnectPeriodMs: Type.Integer({ minimum: 100, default: 1000 }),
}

/** How an MQTT client component (edge agent, ingest, alerts) reaches the broker. */
export const MqttClientConfigSchema = Type.Object(clientProperties, { additionalProperties: false })
export type MqttClientConfig = Type.Static<typeof MqttClientConfigSchema>

const secretProperties = {
  username: Type.String({ minLength: 1, maxLength: 128, description: 'broker user (broker.users[].username)' }),
  passwordEnv: Type.Optional(
    Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'environment variable holding the password (one of passwordEnv, passwordFile)' }),
  ),
  passwordFile: Type.Optional(
    Type.String({ minLength: 1, description: 'file whose first line is the password, e.g. a container secret (one of passwordEnv, passwordFile)' }),
  ),
}

/** A service's own broker user; the password comes from the environment or a file, never from the config. */
export const MqttCredentialSchema = Type.Object(secretProperties, { additionalProperties: false })
export type MqttCredential = Type.Static<typeof MqttCredentialSchema>

/**
 * An edge gateway's broker user and the devices it carries: those of `enterprise` (and `site`), as
 * the broker's `gateway` role scopes it. Without `enterprise`: every device no scoped credential takes
 * (a user that may publish anywhere, e.g. on a broker without ACLs).
 */
export const MqttGatewayCredentialSchema = Type.Object(
  {
    ...secretProperties,
    enterprise: Type.Optional(
      Type.String({ pattern: ID_PATTERN, description: "the gateway user's enterprise: this connection carries that enterprise's devices" }),
    ),
    site: Type.Optional(Type.String({ pattern: ID_PATTERN, description: "the gateway user's site (needs enterprise): only that site's devices" })),
  },
  { additionalProperties: false },
)
export type MqttGatewayCredential = Type.Static<typeof MqttGatewayCredentialSchema>

/** Each component's own broker user (instead of the shared `mqtt.username`). */
export const MqttCredentialsSchema = Type.Object(
  {
    edge: Type.Optional(
      Type.Array(MqttGatewayCredentialSchema, {
        minItems: 1,
        description: 'edge agent: one gateway user per enterprise (or site); one broker connection each',
      }),
    ),
    ingest: Type.Optional(MqttCredentialSchema),
    alerts: Type.Optional(MqttCredentialSchema),
  },
  { additionalProperties: false },
)
export type MqttCredentials = Type.Static<typeof MqttCredentialsSchema>

/** The config file's `mqtt:` section: the connection every component shares, and each one's user. */
export const MqttSectionSchema = Type.Object({ ...clientProperties, credentials: Type.Optional(MqttCredentialsSchema) }, { additionalProperties: false })
export type MqttSection = Type.Static<typeof MqttSectionSchema>

/** Topic the broker diverts invalid publishes to (outside pw/v1, so plant subscriptions never see it). */
export const DEAD_LETTER_TOPIC = 'pw/dead-letter'

/**
 * Status messages of PlantWatt's own services (outside pw/v1, so plant subscriptions never see
 * them): `pw/sys/ingest/{clientId}` carries an ingest instance's counters. The broker's own
 * counters go to `$SYS/{brokerId}/plantwatt/stats` (only admins may subscribe to `$SYS`).
 */
export const SYS_TOPIC_ROOT = 'pw/sys'

/**
 * A component's default MQTT client id: `plantwatt-<component>-<host name>` (lower case, `-` for
 * anything else than a–z, 0–9, `_`). Guessable by design — the broker ties a client id to the user
 * that first used it, so knowing it gains nobody another's session.
 */
export function defaultClientId(component: string): string {
  return `plantwatt-${component}-${hostname()
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')}`
}

/** A client id made safe as one topic level (no `/`, `+`, `#`). */
export function topicLevel(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 128) || '-'
}

/** Where an ingest instance publishes its counters (retained; its will marks it disconnected). */
export function ingestStateTopic(clientId: string): string {
  return `${SYS_TOPIC_ROOT}/ingest/${topicLevel(clientId)}`
}

/** Why a component's broker connection failed last: a coded reason, its text, and when (epoch ms). */
export interface MqttConnectionError {
  code: string
  message: string
  at: number
}

/** A component's broker connection as its status reports it. */
export interface MqttConnectionStatus {
  /** Connected and not being refused: false while the broker refuses the user or its publishes. */
  connected: boolean
  /** Connections lost since start (refused ones included). */
  disconnects: number
  /** The last failure, kept after recovery for the record. */
  lastConnectionError?: MqttConnectionError
}

/** [MQTT-3.2.2-3] CONNACK return codes a broker refuses a client with (3.1.1). */
const CONNACK_REASONS: Record<number, { what: string; text: string }> = {
  1: { what: 'PROTOCOL', text: 'unacceptable protocol version' },
  2: { what: 'CLIENT_ID', text: 'client identifier rejected' },
  3: { what: 'UNAVAILABLE', text: 'server unavailable' },
  4: { what: 'BAD_CREDENTIALS', text: 'bad username or password' },
  5: { what: 'NOT_AUTHORIZED', text: 'not authorized' },
}

/**
 * Follows an mqtt.js client's connection and tells a refusal apart from a plain disconnect:
 * - CONNACK 4/5 (wrong password, unknown or unauthorized user) → `<C>_ERR_MQTT_BAD_CREDENTIALS`,
 *   `<C>_ERR_MQTT_NOT_AUTHORIZED`;
 * - the connection closed by the broker while a QoS 1 publish waited for its PUBACK →
 *   `<C>_ERR_MQTT_PUBLISH_REFUSED`: MQTT 3.1.1 has no negative PUBACK, so a broker refuses a publish
 *   (an ACL outside the user's role or scope) by closing the connection [MQTT-3.3.5-2]; mqtt.js then
 *   resends it after every reconnect and the client loops. Until a PUBACK arrives again the
 *   component counts as not connected, however briefly each reconnect succeeds;
 * - any other loss → `<C>_ERR_MQTT_CONNECTION` (with the socket error when there was one).
 * `component` is the code prefix: EDGE, INGEST, ALERTS.
 */
export class MqttConnectionWatch {
  private disconnects = 0
  private lastError: MqttConnectionError | undefined
  /** Set while the broker refuses: cleared by a successful CONNACK (connect refusals) or PUBACK (publish refusals). */
  private refusal: 'connect' | 'publish' | undefined
  /** QoS 1 publishes of the current connection not yet acknowledged: message id → topic. */
  private readonly unacked = new Map<number, string>()
  private socketError: Error | undefined
  private ending = false
  private up = false

  constructor(
    private readonly client: MqttClient,
    private readonly component: string,
    private readonly url: string,
    private readonly now: () => number = Date.now,
  ) {
    client.on('packetreceive', (packet) => {
      // The CONNACK, not 'connect': mqtt.js resends its unacknowledged publishes before it emits
      // 'connect', so a connection the broker closes over a resent publish never emits it.
      if (packet.cmd !== 'connack' || (packet.returnCode ?? packet.reasonCode ?? 0) !== 0) return
      this.up = true
      this.socketError = undefined
      if (this.refusal === 'connect') this.refusal = undefined
    })
    client.on('packetsend', (packet) => {
      if (packet.cmd === 'publish' && packet.qos > 0 && packet.messageId !== undefined) this.unacked.set(packet.messageId, packet.topic)
    })
    client.on('packetreceive', (packet) => {
      if (packet.cmd !== 'puback' || packet.messageId === undefined) return
      this.unacked.delete(packet.messageId)
      if (this.refusal === 'publish') this.refusal = undefined
    })
    client.on('error', (err: Error & { code?: unknown }) => {
      if (typeof err.code === 'number') {
        const reason = CONNACK_REASONS[err.code]
        this.refusal = 'connect'
        this.fail(
          `${component}_ERR_MQTT_${reason?.what ?? 'REFUSED'}`,
          `broker ${url} refused the connection: CONNACK ${err.code} (${reason?.text ?? err.message})`,
        )
      } else {
        this.socketError = err
      }
    })
    client.on('close', () => this.onClose())
    client.on('end', () => (this.ending = true))
  }

  private onClose(): void {
    const wasUp = this.up
    this.up = false
    const pendingTopic = this.unacked.values().next().value
    this.unacked.clear()
    if (this.ending || this.client.disconnecting) return
    if (this.refusal === 'connect') return // the CONNACK error already said why
    if (wasUp) this.disconnects++
    if (pendingTopic !== undefined) {
      this.refusal = 'publish'
      this.fail(
        `${this.component}_ERR_MQTT_PUBLISH_REFUSED`,
        `broker ${this.url} closed the connection while a publish to ${pendingTopic.slice(0, 200)} waited for its PUBACK: a publish the user's role or scope does not allow (or a broker restart)`,
      )
      return
    }
    const cause = this.socketError ? `: ${this.socketError.message}` : ''
    this.fail(`${this.component}_ERR_MQTT_CONNECTION`, `connection to broker ${this.url} lost${cause}`)
  }

  private fail(code: string, message: string): void {
    this.lastError = { code, message, at: this.now() }
  }

  /** Marks the coming disconnect as the component's own (close()), not a failure. */
  closing(): void {
    this.ending = true
  }

  status(): MqttConnectionStatus {
    return {
      connected: this.client.connected && this.refusal === undefined,
      disconnects: this.disconnects,
      ...(this.lastError ? { lastConnectionError: { ...this.lastError } } : {}),
    }
  }
}
