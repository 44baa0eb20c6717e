import type { ConfigProblem } from '../core/config.ts'
import { cjt188Location } from './cjt188/driver.ts'
import type { EdgeConfig } from './config.ts'
import { dlt645BusLocation } from './dlt645/bus.ts'
import { physicalLineKey } from './field-line.ts'
import { busLocation as modbusBusLocation } from './modbus/client.ts'
import type { LineLocation } from './shared-link.ts'

/** One DL/T 645 or CJ/T 188 meter as the line check sees it. */
interface LineMember {
  index: number
  device: string
  protocol: 'dlt645' | 'cjt188'
  location: LineLocation
  /** 645: 12 digits or `discover`; 188: 14 hex digits, upper case. */
  address: string
}

const where = (i: number, protocol: string) => `/devices/${i}/${protocol}`

function membersOf(config: EdgeConfig): LineMember[] {
  const out: LineMember[] = []
  config.devices.forEach((d, index) => {
    if (d.driver === 'dlt645' && d.dlt645)
      out.push({ index, device: d.device, protocol: 'dlt645', location: dlt645BusLocation(d.dlt645), address: d.dlt645.address })
    if (d.driver === 'cjt188' && d.cjt188)
      out.push({ index, device: d.device, protocol: 'cjt188', location: cjt188Location(d.cjt188), address: d.cjt188.address.toUpperCase() })
  })
  return out
}

const lineSettings = (l: LineLocation) =>
  l.transport === 'serial' ? `${l.baudRate} ${l.dataBits}${l.parity[0]?.toUpperCase()}${l.stopBits}` : `${l.host}:${l.port}`

/** Problems of the meters on one line: line settings, duplicate addresses, discovery on a shared line. */
function checkLine(key: string, members: LineMember[], problems: ConfigProblem[]): void {
  const first = members[0] as LineMember
  for (const m of members.slice(1)) {
    // One port opened once, with the settings of whichever device opens it first.
    if (lineSettings(m.location) !== lineSettings(first.location))
      problems.push({
        path: where(m.index, m.protocol),
        message: `line ${key} is configured as ${lineSettings(m.location)} here and ${lineSettings(first.location)} at ${where(first.index, first.protocol)}: every meter on one line must use the same baudRate, parity, dataBits and stopBits`,
      })
  }
  const byAddress = new Map<string, LineMember>()
  for (const m of members) {
    if (m.address === 'discover') {
      // Discovery asks AAAAAAAAAAAA: whichever meter answers is taken, another meter's values published as good.
      for (const o of members)
        if (o !== m)
          problems.push({
            path: `${where(m.index, m.protocol)}/address`,
            message: `address discover needs the meter alone on its line, but ${key} also has device ${o.device} (${where(o.index, o.protocol)}): discovery by the broadcast address would take whichever meter answers; set the printed address`,
          })
      continue
    }
    const k = `${m.protocol}:${m.address}`
    const dup = byAddress.get(k)
    if (dup)
      problems.push({
        path: `${where(m.index, m.protocol)}/address`,
        message: `meter address ${m.address} is already used on line ${key} by device ${dup.device} (${where(dup.index, dup.protocol)}): both would answer the same requests`,
      })
    else byAddress.set(k, m)
  }
}

/**
 * Checks the DL/T 645 and CJ/T 188 meters that share a physical line (a serial port or a DTU's TCP
 * port, both protocols together): one set of line settings, distinct meter addresses, `discover`
 * only for a meter alone on its line; and no Modbus RTU bus on such a line (it opens its own link).
 */
export function checkSharedLines(config: EdgeConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const lines = new Map<string, LineMember[]>()
  for (const m of membersOf(config)) {
    const key = physicalLineKey(m.location)
    lines.set(key, [...(lines.get(key) ?? []), m])
  }
  for (const [key, members] of lines) checkLine(key, members, problems)
  config.devices.forEach((d, i) => {
    if (d.driver !== 'modbus' || d.connection.transport === 'tcp') return
    const loc = modbusBusLocation(d.connection)
    const key = loc.transport === 'rtu' ? `serial:${loc.path}` : `tcp://${loc.host}:${loc.port}`
    const other = lines.get(key)?.[0]
    if (other)
      problems.push({
        path: `/devices/${i}/connection`,
        message: `Modbus RTU bus ${key} is also the line of ${other.protocol} device ${other.device} (${where(other.index, other.protocol)}): the agent cannot share one line between Modbus and DL/T 645 / CJ/T 188`,
      })
  })
  return problems
}
