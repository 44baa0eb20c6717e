import Type from 'typebox'
import { ID_PATTERN } from '../core/topic.ts'

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })

/**
 * Modbus TCP connection. A later `rtu` variant (serial path, baud rate, parity) joins it as a
 * union discriminated on `transport`.
 */
export const ModbusTcpConnectionSchema = Type.Object(
  {
    transport: Type.Literal('tcp', { default: 'tcp', description: 'tcp (Modbus TCP, MBAP framing); rtu comes later' }),
    host: Type.String({ minLength: 1, description: 'device or gateway host name or IP address' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 502, description: 'TCP port (Modbus standard 502)' }),
    unitId: Type.Integer({ minimum: 0, maximum: 255, default: 1, description: 'unit identifier (slave id behind a gateway)' }),
    timeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000, description: 'connect and per-request response timeout, ms' }),
  },
  { additionalProperties: false },
)

/** One Modbus device polled by the agent. OPC UA devices join `devices` as a union on `driver`. */
export const ModbusDeviceSchema = Type.Object(
  {
    enterprise: Id('enterprise id of the topic'),
    site: Id('site id of the topic'),
    line: Id('line id of the topic'),
    device: Id('device id of the topic, unique within its line'),
    driver: Type.Literal('modbus', { description: 'driver registry key' }),
    profile: Type.String({
      minLength: 1,
      description: 'shipped profile name (e.g. eastron-sdm630) or path to a YAML profile (relative to the working directory)',
    }),
    connection: ModbusTcpConnectionSchema,
    pollIntervalMs: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 1000, description: 'poll period, ms' }),
    retries: Type.Integer({ minimum: 0, maximum: 10, default: 1, description: 'extra attempts per request after a timeout or busy reply' }),
    maxRegistersPerRead: Type.Integer({
      minimum: 1,
      maximum: 125,
      default: 125,
      description: 'largest FC3/FC4 read, registers (Modbus limit 125; some meters accept fewer)',
    }),
    maxGapRegisters: Type.Integer({
      minimum: 0,
      maximum: 124,
      default: 10,
      description: 'unused registers a read may span to merge two points, registers (0: read only mapped registers)',
    }),
  },
  { additionalProperties: false },
)

export const EdgeConfigSchema = Type.Object(
  {
    // A default, so that a config without an `edge:` section (plantwatt up) validates.
    agentId: Type.String({
      pattern: ID_PATTERN,
      default: 'edge',
      description: "this agent's id: its MQTT state topic and the `agent` field of every state message",
    }),
    publishQos: Type.Union([Type.Literal(0), Type.Literal(1)], { default: 1, description: 'MQTT QoS of data messages (1: at least once)' }),
    maxSamplesPerMessage: Type.Integer({ minimum: 1, maximum: 10_000, default: 100, description: 'samples per data message, samples' }),
    outboxMaxSamples: Type.Integer({
      minimum: 1,
      default: 100_000,
      description: 'samples buffered while the broker is unreachable, across devices; the oldest are dropped beyond it',
    }),
    devices: Type.Array(ModbusDeviceSchema, { default: [], description: 'devices this agent polls' }),
  },
  { additionalProperties: false },
)

export type ModbusTcpConnection = Type.Static<typeof ModbusTcpConnectionSchema>
export type ModbusDeviceConfig = Type.Static<typeof ModbusDeviceSchema>
export type EdgeDeviceConfig = ModbusDeviceConfig
export type EdgeConfig = Type.Static<typeof EdgeConfigSchema>
