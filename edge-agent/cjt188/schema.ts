import Type from 'typebox'

/**
 * How the agent reaches a CJ/T 188 meter (`driver: cjt188`, section `cjt188:`): on an RS-485 line
 * (`serial`) or through a transparent serial-to-TCP gateway (`tcp`, a DTU). Meters with the same
 * path (or host and port) share the bus and are read one request at a time. Which keys a transport
 * needs is checked when the driver is created (EDGE_ERR_DRIVER_CONFIG).
 */
export const Cjt188ConnectionSchema = Type.Object(
  {
    transport: Type.Enum(['serial', 'tcp'], { default: 'serial', description: 'serial (RS-485 line) or tcp (transparent serial-to-TCP gateway, DTU)' }),
    path: Type.Optional(Type.String({ minLength: 1, description: 'serial: device, e.g. /dev/ttyUSB0; meters with the same path share the bus' })),
    baudRate: Type.Optional(Type.Integer({ minimum: 300, maximum: 115_200, description: 'serial: bits per second (default 2400)' })),
    parity: Type.Optional(Type.Enum(['none', 'even', 'odd'], { description: 'serial: parity (default even: meters commonly run 2400 8E1)' })),
    dataBits: Type.Optional(Type.Union([Type.Literal(7), Type.Literal(8)], { description: 'serial: data bits (default 8)' })),
    stopBits: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)], { description: 'serial: stop bits (default 1)' })),
    host: Type.Optional(Type.String({ minLength: 1, description: 'tcp: gateway host name or IP address' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'tcp: gateway TCP port' })),
    address: Type.String({
      pattern: '^[0-9A-Fa-f]{14}$',
      description: 'meter address A6..A0 as printed on the meter, 14 hex digits (usually BCD), e.g. 78330011223344',
    }),
    meterType: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 255, description: "meter type byte T (default the profile's: 0x10 cold water, 0x30 gas, 0x20 heat)" }),
    ),
    diOrder: Type.Enum(['low-first', 'high-first'], {
      default: 'low-first',
      description: 'byte order of the data identifier 901F on the wire: low-first (1F 90) or high-first (90 1F, some 2004 meters)',
    }),
    preambleBytes: Type.Integer({ minimum: 0, maximum: 8, default: 4, description: 'FE wake-up bytes sent before each request' }),
    heatQuantity: Type.Enum(['auto', 'heat_kwh', 'heat_gj'], {
      default: 'auto',
      description: "heat meters: publish heat as heat_kwh or heat_gj (converted), or auto (the meter's unit)",
    }),
    serCheck: Type.Enum(['echo', 'ignore'], {
      default: 'echo',
      description:
        "echo: a reply must carry the request's SER (the agent counts it up per request), which tells a late reply to an earlier request apart from this one's; ignore: for meters that answer with a fixed SER (e.g. 00) — a late reply of the same meter may then be taken as the current one",
    }),
    valve: Type.Enum(['report', 'none'], {
      default: 'report',
      description: 'report: publish valve_state from ST1 D1–D0 (0 open, 1 closed); none: a meter without a valve (its bits read 00, "open")',
    }),
    badStatusMask: Type.Integer({
      minimum: 0,
      maximum: 0xffff,
      default: 0,
      description: 'status bits (ST1 | ST2 << 8) that make every value of a reply bad (manufacturer-specific fault bits); 0: none',
    }),
    timeoutMs: Type.Integer({
      minimum: 10,
      maximum: 60_000,
      default: 1000,
      description: 'connect and per-request reply timeout, ms (a heat reply at 2400 baud takes ~270 ms on the wire)',
    }),
  },
  { additionalProperties: false },
)

export type Cjt188Connection = Type.Static<typeof Cjt188ConnectionSchema>
