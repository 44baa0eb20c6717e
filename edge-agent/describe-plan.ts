import { describeError } from '../core/errors.ts'
import type { EdgeConfig } from './config.ts'
import { endpointOf } from './modbus/driver.ts'
import { planReads } from './modbus/plan.ts'
import { FUNCTION_CODES, formatAddress, type ModbusFunction } from './modbus/types.ts'
import { deviceKey } from './outbox.ts'
import { loadOpcuaProfile } from './opcua/profile.ts'
import { loadProfile } from './profile.ts'

/** One read request of a device's poll. */
export interface PlannedRequest {
  function: ModbusFunction
  /** Modbus function code (1–4). */
  functionCode: number
  /** 0-based start address. */
  address: number
  /** Registers (FC3/FC4) or bits (FC1/FC2). */
  count: number
  /** Registers or bits read but mapped to no point (the gaps merged over). */
  unused: number
  /** Canonical quantities served, in address order. */
  points: string[]
}

export interface DevicePlan {
  /** `enterprise/site/line/device` */
  key: string
  driver: string
  endpoint: string
  profile: string
  pollIntervalMs: number
  /** Modbus: the read requests of one poll. */
  requests: PlannedRequest[]
  /** OPC UA: the nodes read or monitored, with the quantity each becomes. */
  nodes: { nodeId: string; quantity: string }[]
  /** Modbus: where the CT / PT ratios of scaled points come from, e.g. `CT holding 0x008E uint16 (read at connect)`. */
  ratios: string[]
  /** Why the device cannot be planned (unknown profile …); `requests` is then empty. */
  error?: string
}

/**
 * What the agent will send to each device on every poll (`plantwatt edge plan config.yaml`): the
 * coalesced Modbus read requests with the points each serves, or the OPC UA nodes. Loads the profiles; does no I/O to devices.
 * A device that cannot be planned is reported with its error; the others are still planned.
 */
export function planDevices(config: EdgeConfig): DevicePlan[] {
  return config.devices.map((d) => {
    const endpoint = d.driver === 'opcua' ? `${d.opcua?.endpointUrl ?? '?'} ${d.opcua?.mode ?? ''}`.trim() : endpointOf(d)
    const base = { key: deviceKey(d), driver: d.driver, endpoint, profile: d.profile, pollIntervalMs: d.pollIntervalMs, requests: [] as PlannedRequest[], ratios: [] as string[], nodes: [] as DevicePlan['nodes'] }
    try {
      if (d.driver === 'opcua') {
        return { ...base, nodes: loadOpcuaProfile(d.profile).points.map((p) => ({ nodeId: p.nodeId, quantity: p.quantity })) }
      }
      const profile = loadProfile(d.profile)
      const requests = planReads(profile.points, { maxRegistersPerRead: d.maxRegistersPerRead, maxGapRegisters: d.maxGapRegisters }).map((r) => ({
        function: r.function,
        functionCode: FUNCTION_CODES[r.function],
        address: r.address,
        count: r.count,
        unused: r.count - r.points.reduce((n, p) => n + p.width, 0),
        points: r.points.map((p) => p.quantity),
      }))
      const ratios = (['ct', 'pt'] as const)
        .filter((k) => profile.points.some((p) => p.ratio?.includes(k)))
        .map((k) => {
          const override = k === 'ct' ? d.ctRatio : d.ptRatio
          const reg = profile.ratios?.[k]
          const name = k.toUpperCase()
          if (override !== undefined) return `${name} ${override} (config ${k}Ratio)`
          return reg ? `${name} ${formatAddress(reg.function, reg.address)} ${reg.type} (read at connect)` : `${name} ?`
        })
      return { ...base, requests, ratios }
    } catch (err) {
      return { ...base, error: describeError(err) }
    }
  })
}

/** The plan as text, one block per device and one line per request. */
export function describePlan(config: EdgeConfig): string {
  const lines: string[] = []
  for (const d of planDevices(config)) {
    lines.push(`${d.key}  ${d.driver} ${d.endpoint}  profile ${d.profile}  every ${d.pollIntervalMs} ms`)
    if (d.error) {
      lines.push(`  error: ${d.error}`)
      continue
    }
    if (d.driver === 'opcua') {
      lines.push(`  ${d.nodes.length} node(s)`)
      for (const n of d.nodes) lines.push(`  ${n.nodeId.padEnd(34)} ${n.quantity}`)
      continue
    }
    const points = d.requests.reduce((n, r) => n + r.points.length, 0)
    lines.push(`  ${d.requests.length} request(s) per poll for ${points} point(s)`)
    if (d.ratios.length > 0) lines.push(`  ratios: ${d.ratios.join(', ')}`)
    for (const r of d.requests) {
      const range = `${formatAddress(r.function, r.address)} ×${r.count}`
      lines.push(`  FC${r.functionCode} ${range.padEnd(22)} ${r.unused > 0 ? `(${r.unused} unused) ` : ''}${r.points.join(', ')}`)
    }
  }
  return lines.join('\n')
}
