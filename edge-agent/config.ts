import Type from 'typebox'
import { ID_PATTERN } from '../core/topic.ts'
import { Cjt188ConnectionSchema } from './cjt188/schema.ts'
import { Dlt645ConnectionSchema } from './dlt645/schema.ts'
import { EdgeSparkplugSchema } from './sparkplug/config.ts'

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })

export const MODBUS_TRANSPORTS = ['tcp', 'rtu', 'rtu-over-tcp'] as const
export type ModbusTransport = (typeof MODBUS_TRANSPORTS)[number]

/**
 * How the agent reaches a Modbus device: `tcp` (MBAP framing), `rtu` on a serial port, or
 * `rtu-over-tcp` (RTU frames with CRC through a serial-to-Ethernet converter in transparent mode).
 * One flat object rather than a union per transport: a union makes the validator report every
 * variant's mismatch for one typo. Which keys a transport needs is checked when the driver is
 * created (EDGE_ERR_DRIVER_CONFIG); serial line settings have their defaults there.
 */
const modbusConnectionProperties = {
  transport: Type.Enum(MODBUS_TRANSPORTS, {
    default: 'tcp',
    description: 'tcp (Modbus TCP), rtu (serial line), rtu-over-tcp (RTU frames through a TCP serial gateway)',
  }),
  host: Type.Optional(Type.String({ minLength: 1, description: 'tcp, rtu-over-tcp: device or gateway host name or IP address' })),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 502, description: 'tcp, rtu-over-tcp: TCP port (Modbus standard 502)' }),
  path: Type.Optional(Type.String({ minLength: 1, description: 'rtu: serial device, e.g. /dev/ttyUSB0; devices with the same path share the bus' })),
  baudRate: Type.Optional(Type.Integer({ minimum: 300, maximum: 921_600, description: 'rtu: bits per second (default 9600)' })),
  parity: Type.Optional(
    Type.Enum(['none', 'even', 'odd'], { description: 'rtu: parity none | even | odd (default none; Modbus over Serial Line §2.5.1 makes even the default)' }),
  ),
  dataBits: Type.Optional(Type.Union([Type.Literal(7), Type.Literal(8)], { description: 'rtu: data bits (default 8; RTU requires 8)' })),
  stopBits: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)], { description: 'rtu: stop bits (default 1)' })),
  unitId: Type.Integer({ minimum: 0, maximum: 255, default: 1, description: 'unit identifier: the slave id on the bus or behind a gateway' }),
  timeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000, description: 'connect and per-request response timeout, ms' }),
}
export const ModbusConnectionSchema = Type.Object(modbusConnectionProperties, { additionalProperties: false })

/** @deprecated name kept for existing imports: the connection schema covers every transport. */
export const ModbusTcpConnectionSchema = ModbusConnectionSchema

/**
 * How the agent reaches an OPC UA server (`driver: opcua`). Security (OPC UA Part 4
 * MessageSecurityMode, Part 7 security policies): None, or Sign / SignAndEncrypt with
 * Basic256Sha256. The agent's own certificate
 * lives in `pkiDir/own`, servers it trusts in `pkiDir/trusted/certs`; an unknown server certificate
 * is refused and copied to `pkiDir/rejected` for an operator to move.
 */
export const OpcuaConnectionSchema = Type.Object(
  {
    endpointUrl: Type.String({ pattern: '^opc\\.tcp://', description: 'server endpoint, e.g. opc.tcp://10.0.0.7:4840' }),
    securityMode: Type.Enum(['None', 'Sign', 'SignAndEncrypt'], {
      default: 'SignAndEncrypt',
      description: 'message security mode: None | Sign | SignAndEncrypt',
    }),
    securityPolicy: Type.Enum(['None', 'Basic256Sha256'], {
      default: 'Basic256Sha256',
      description: 'security policy: None | Basic256Sha256 (None only with securityMode None)',
    }),
    pkiDir: Type.String({ minLength: 1, default: './data/opcua-pki', description: "the agent's certificate store: own/, trusted/, rejected/" }),
    applicationName: Type.String({
      minLength: 1,
      default: 'plantwatt-edge',
      description: 'client application name; its certificate URI is urn:<host>:<applicationName>',
    }),
    username: Type.Optional(Type.String({ minLength: 1, description: 'user name; the password comes from env PLANTWATT_OPCUA_PASSWORD or `password`' })),
    password: Type.Optional(Type.String({ description: 'prefer env PLANTWATT_OPCUA_PASSWORD' })),
    mode: Type.Enum(['subscribe', 'poll'], { default: 'subscribe', description: 'subscribe (monitored items) or poll (Read service every pollIntervalMs)' }),
    samplingIntervalMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 1000, description: 'subscribe: monitored item sampling interval, ms' }),
    publishingIntervalMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 1000, description: 'subscribe: subscription publishing interval, ms' }),
    queueSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 10, description: 'subscribe: values the server queues per item between publishes' }),
    deadband: Type.Enum(['none', 'absolute', 'percent'], { default: 'none', description: 'subscribe: data change filter deadband: none | absolute | percent' }),
    deadbandValue: Type.Number({ minimum: 0, default: 0, description: 'subscribe: deadband, in the value’s unit (absolute) or % of its EURange (percent)' }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 5000, description: 'connect and request timeout, ms' }),
    session: Type.Enum(['shared', 'own'], {
      default: 'shared',
      description:
        'shared: devices with the same endpoint, security, PKI folder, application name, user and timeout share one session (and one subscription per publishing interval), as a PLC or gateway allows few sessions; own: a session for this device alone',
    }),
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
    // An enum, not a union of literals: one error for a wrong value instead of one per option.
    driver: Type.Enum(['modbus', 'opcua', 'dlt645', 'cjt188'], { description: 'driver registry key: modbus, opcua, dlt645 or cjt188' }),
    profile: Type.String({
      minLength: 1,
      description: 'shipped profile name (e.g. eastron-sdm630) or path to a YAML profile (relative to the working directory)',
    }),
    // A default so that an OPC UA device needs none (the validator does not fill defaults inside a
    // defaulted object, hence spelled out); the Modbus driver checks it has what its transport needs.
    connection: Type.Object(modbusConnectionProperties, { additionalProperties: false, default: { transport: 'tcp', port: 502, unitId: 1, timeoutMs: 1000 } }),
    opcua: Type.Optional(OpcuaConnectionSchema),
    cjt188: Type.Optional(Cjt188ConnectionSchema),
    dlt645: Type.Optional(Dlt645ConnectionSchema),
    ctRatio: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description:
          "CT ratio (e.g. 80 for 400/5 A) for points with ratio ct/ctpt; overrides the meter's CT register (for meters whose ratio is not programmed)",
      }),
    ),
    ptRatio: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: "PT ratio (e.g. 100 for 10 kV/100 V) for points with ratio pt/ctpt; overrides the meter's PT register" }),
    ),
    pollIntervalMs: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 1000, description: 'poll period, ms' }),
    retries: Type.Integer({
      minimum: 0,
      maximum: 10,
      default: 1,
      description: 'extra attempts per request after a timeout, a busy reply or (rtu) a garbled frame',
    }),
    retryBackoffMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 20, description: 'wait before the first retry, doubled for each further one, ms' }),
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
    publishIntervalMs: Type.Integer({
      minimum: 0,
      maximum: 3_600_000,
      default: 0,
      description:
        "0: publish each poll's samples at once. > 0: collect each device's samples and publish them every publishIntervalMs, ms — at 1 s polling, 10000 sends 10 samples per message: about a fifth of the broker and ingest CPU per sample (docs/scaling.md), live values up to that much later",
    }),
    outboxMaxSamples: Type.Integer({
      minimum: 1,
      default: 100_000,
      description: 'samples buffered while the broker is unreachable, across devices; the oldest are dropped beyond it',
    }),
    // Store-and-forward is the default: every sample is committed to the SQLite file before it is
    // published and leaves it only after the broker's PUBACK. `memory` is for tests and for agents
    // that must not write to disk (a sample is then lost when the process dies).
    buffer: Type.Enum(['memory', 'disk'], {
      default: 'disk',
      description:
        'where samples wait for the broker: disk (default: SQLite file in bufferDir, survives kill -9 and restart) or memory (lost when the agent stops)',
    }),
    bufferDir: Type.String({
      minLength: 1,
      default: './data/edge-buffer',
      description: 'disk buffer folder; the file is <agentId>.sqlite, locked while the agent runs',
    }),
    bufferSync: Type.Enum(['normal', 'full'], {
      default: 'normal',
      description:
        'disk buffer: normal (each sample committed before it is published; survives a process crash) or full (also fsynced; survives power loss, slower)',
    }),
    heapGrowingPercent: Type.Integer({
      minimum: 0,
      maximum: 1000,
      default: 100,
      description:
        "V8's --heap-growing-percent for the agent's process, set at start (0: V8's own choice; a --heap-growing-percent given to node wins). A mostly idle agent otherwise gets V8's smallest old-generation growth and mark-compacts every 0.4–1 s (README, Measured)",
    }),
    statusIntervalMs: Type.Integer({
      minimum: 10,
      maximum: 86_400_000,
      default: 10_000,
      description: "how often each device's retained state (status and counters) is republished, ms; also on every status change",
    }),
    devices: Type.Array(ModbusDeviceSchema, { default: [], description: 'devices this agent polls' }),
    publisher: Type.Optional(
      Type.Enum(['native', 'sparkplug'], {
        description: 'native (the default: PlantWatt topics and JSON payloads) or sparkplug (a Sparkplug B 3.0 edge node, settings in `sparkplug`)',
      }),
    ),
    sparkplug: Type.Optional(EdgeSparkplugSchema),
  },
  { additionalProperties: false },
)

export type ModbusConnection = Type.Static<typeof ModbusConnectionSchema>
/** @deprecated use ModbusConnection */
export type ModbusTcpConnection = ModbusConnection
export type ModbusDeviceConfig = Type.Static<typeof ModbusDeviceSchema>
export type OpcuaConnection = Type.Static<typeof OpcuaConnectionSchema>
export type EdgeDeviceConfig = ModbusDeviceConfig
export type EdgeConfig = Type.Static<typeof EdgeConfigSchema>
