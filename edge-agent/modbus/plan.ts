import { PlantWattError } from '../../core/errors.ts'
import { isBitFunction, MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ, MODBUS_FUNCTIONS, formatAddress, type ModbusFunction } from './types.ts'

/** What the planner needs to know of a point: where it is and how many registers (or bits) it spans. */
export interface PlannablePoint {
  function: ModbusFunction
  address: number
  /** Registers for register tables, bits for coil/discrete tables. */
  width: number
}

export interface PlanOptions {
  /** Largest FC3/FC4 read, registers. Default and maximum 125 (MB §6.3/§6.4). */
  maxRegistersPerRead?: number
  /** Largest FC1/FC2 read, bits. Default and maximum 2000 (MB §6.1/§6.2). */
  maxBitsPerRead?: number
  /** Unused registers one read may span to merge neighbouring points. Default 10. */
  maxGapRegisters?: number
  /** Unused bits one read may span to merge neighbouring points. Default 160 (10 registers' worth of bytes). */
  maxGapBits?: number
}

/** One read request and the points it serves. */
export interface ReadRequest<P extends PlannablePoint> {
  function: ModbusFunction
  address: number
  /** Registers (FC3/FC4) or bits (FC1/FC2). */
  count: number
  points: P[]
}

/**
 * Coalesces points into the fewest reads per table: points sorted by address are merged while the
 * read stays within the size limit and the unused span between two points is at most the max gap.
 */
export function planReads<P extends PlannablePoint>(points: readonly P[], options: PlanOptions = {}): ReadRequest<P>[] {
  const maxRegisters = options.maxRegistersPerRead ?? MAX_REGISTERS_PER_READ
  const maxBits = options.maxBitsPerRead ?? MAX_BITS_PER_READ
  if (!(Number.isInteger(maxRegisters) && maxRegisters >= 1 && maxRegisters <= MAX_REGISTERS_PER_READ)) {
    throw new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `maxRegistersPerRead ${maxRegisters} is outside 1..${MAX_REGISTERS_PER_READ}`)
  }
  if (!(Number.isInteger(maxBits) && maxBits >= 1 && maxBits <= MAX_BITS_PER_READ)) {
    throw new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `maxBitsPerRead ${maxBits} is outside 1..${MAX_BITS_PER_READ}`)
  }
  const requests: ReadRequest<P>[] = []
  for (const fn of MODBUS_FUNCTIONS) {
    const bits = isBitFunction(fn)
    const maxCount = bits ? maxBits : maxRegisters
    const maxGap = bits ? (options.maxGapBits ?? 160) : (options.maxGapRegisters ?? 10)
    const sorted = points.filter((p) => p.function === fn).sort((a, b) => a.address - b.address || a.width - b.width)
    let current: ReadRequest<P> | undefined
    for (const point of sorted) {
      if (point.width > maxCount) {
        throw new PlantWattError(
          'EDGE_ERR_DRIVER_CONFIG',
          `point at ${formatAddress(fn, point.address)} spans ${point.width} ${bits ? 'bits' : 'registers'}, more than one read of ${maxCount} allows`,
        )
      }
      if (current) {
        const end = current.address + current.count
        const newEnd = Math.max(end, point.address + point.width)
        if (point.address - end <= maxGap && newEnd - current.address <= maxCount) {
          current.count = newEnd - current.address
          current.points.push(point)
          continue
        }
      }
      current = { function: fn, address: point.address, count: point.width, points: [point] }
      requests.push(current)
    }
  }
  return requests
}
