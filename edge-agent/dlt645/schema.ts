import Type from 'typebox'

/**
 * How the agent reaches a DL/T 645 meter (`driver: dlt645`, the device's `dlt645:` section): on a
 * serial RS-485 line, or through a transparent serial-to-TCP gateway (DTU) that passes the frames
 * unchanged. Devices with the same serial path, or the same DTU host and port, share one bus: one
 * request at a time, in turn.
 */
export const Dlt645ConnectionSchema = Type.Object(
  {
    transport: Type.Enum(['serial', 'tcp'], { default: 'serial', description: 'serial (RS-485 port) or tcp (transparent serial-to-TCP gateway, DTU)' }),
    path: Type.Optional(Type.String({ minLength: 1, description: 'serial: the port, e.g. /dev/ttyUSB0; devices with the same path share the bus' })),
    baudRate: Type.Integer({
      minimum: 300,
      maximum: 115_200,
      default: 2400,
      description: 'serial: bits per second (DL/T 645 meters: 2400 mostly, also 1200, 4800, 9600)',
    }),
    parity: Type.Enum(['none', 'even', 'odd'], { default: 'even', description: 'serial: parity (DL/T 645: even)' }),
    dataBits: Type.Union([Type.Literal(7), Type.Literal(8)], { default: 8, description: 'serial: data bits (DL/T 645: 8)' }),
    stopBits: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 1, description: 'serial: stop bits (DL/T 645: 1)' }),
    host: Type.Optional(Type.String({ minLength: 1, description: 'tcp: the DTU host name or IP address' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'tcp: the DTU TCP port of this serial line' })),
    address: Type.String({
      pattern: '^([0-9]{12}|discover)$',
      description:
        "the meter's communication address, 12 digits as printed on the meter (A5…A0), or discover: ask the single meter on the bus (C=0x13 to AAAAAAAAAAAA) at connect",
    }),
    preambleBytes: Type.Integer({
      minimum: 0,
      maximum: 8,
      default: 4,
      description: 'FE wake-up bytes sent before every request (DL/T 645-2007 §7.3: up to 4)',
    }),
    timeoutMs: Type.Integer({
      minimum: 10,
      maximum: 60_000,
      default: 1000,
      description: 'connect and per-request reply timeout, ms (a meter may take up to 500 ms to start its reply)',
    }),
  },
  { additionalProperties: false },
)

export type Dlt645Connection = Type.Static<typeof Dlt645ConnectionSchema>
