/**
 * The Modbus vocabulary shared by profiles, the planner, the decoder and the driver.
 * Modbus Application Protocol Specification V1.1b3 (modbus.org) is cited as "MB §x".
 */

/** The four data tables a read can address (MB §4.3), named as in profiles. */
export const MODBUS_FUNCTIONS = ['coil', 'discrete', 'holding', 'input'] as const
export type ModbusFunction = (typeof MODBUS_FUNCTIONS)[number]

/** Read function codes per table: FC1 coils, FC2 discrete inputs, FC3 holding, FC4 input registers (MB §6.1–6.4). */
export const FUNCTION_CODES: Readonly<Record<ModbusFunction, 1 | 2 | 3 | 4>> = { coil: 1, discrete: 2, holding: 3, input: 4 }

export function functionFromCode(code: number): ModbusFunction | undefined {
  return MODBUS_FUNCTIONS.find((f) => FUNCTION_CODES[f] === code)
}

/** True for the one-bit tables (coils, discrete inputs); false for the 16-bit register tables. */
export function isBitFunction(fn: ModbusFunction): boolean {
  return fn === 'coil' || fn === 'discrete'
}

/**
 * Value types. A `string` spans `length` registers (two ASCII bytes each, first character in the
 * high byte); payload values are numbers, so a string point carries a `map` from text to number
 * (e.g. "RUN" → 2 for `machine_state`).
 */
export const DATA_TYPES = ['bit', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'uint64', 'int64', 'float64', 'string'] as const
export type DataType = (typeof DATA_TYPES)[number]

/**
 * Order of the bytes of a multi-register value relative to big-endian ABCD (A = most significant
 * byte). Modbus itself only fixes big-endian bytes within one register (MB §4.2); how registers
 * combine is the vendor's choice. CDAB swaps words, BADC swaps the bytes inside each word, DCBA
 * does both (little-endian). For 64-bit values the same two swaps apply to all four words.
 */
export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const
export type WordOrder = (typeof WORD_ORDERS)[number]

/** Width of a value: registers for register types, 1 (bit) for `bit`, `length` registers for `string`. */
export function widthOf(type: DataType, length = 1): number {
  switch (type) {
    case 'string':
      return length
    case 'bit':
    case 'uint16':
    case 'int16':
      return 1
    case 'uint32':
    case 'int32':
    case 'float32':
      return 2
    case 'uint64':
    case 'int64':
    case 'float64':
      return 4
  }
}

/** MB §6.1/§6.2: at most 2000 coils or discrete inputs per read. */
export const MAX_BITS_PER_READ = 2000
/** MB §6.3/§6.4: at most 125 registers per FC3/FC4 read. */
export const MAX_REGISTERS_PER_READ = 125
/** Addresses on the wire are 16-bit (MB §4.4): 0..65535. */
export const MAX_ADDRESS = 0xffff

export function formatAddress(fn: ModbusFunction, address: number): string {
  return `${fn} 0x${address.toString(16).toUpperCase().padStart(4, '0')}`
}
