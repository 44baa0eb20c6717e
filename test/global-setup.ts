import { requireCommand } from './system.ts'

/** Runs once before the suite: the real servers the tests start must be installable. */
export default function setup(): void {
  requireCommand('influxd', 'influxdb')
}
