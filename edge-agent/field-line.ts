import type { LineLocation } from './shared-link.ts'

/**
 * The physical line under DL/T 645 and CJ/T 188 meters: `serial:/dev/ttyUSB0` for an RS-485 port,
 * `tcp://10.0.0.9:8899` for a DTU. Meters of both protocols with the same key are on one wire.
 */
export function physicalLineKey(loc: LineLocation): string {
  return loc.transport === 'serial' ? `serial:${loc.path}` : `tcp://${loc.host}:${loc.port}`
}
