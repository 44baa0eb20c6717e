import type { ConfigProblem } from '../core/config.ts'
import { describeError, PlantWattError } from '../core/errors.ts'
import type { EdgeConfig } from './config.ts'
import { BUILTIN_DRIVERS, configuredEndpoint, type DriverFactory } from './drivers.ts'
import { dlt645Identifiers, formatDlt645Schedule, planDlt645Buses } from './dlt645/plan.ts'
import { endpointOf } from './modbus/driver.ts'
import { planReads } from './modbus/plan.ts'
import { FUNCTION_CODES, formatAddress, type ModbusFunction } from './modbus/types.ts'
import { deviceKey } from './outbox.ts'
import { loadOpcuaProfile } from './opcua/profile.ts'
import { opcuaSessionKey, opcuaSessionLabel } from './opcua/session-key.ts'
import { loadProfile } from './modbus/profile.ts'
import { isProfileError, profileProblemsOf, type ProfileProblem } from './profile-error.ts'
import { checkEdgeDevices } from './setup.ts'
import { dlt645CounterModuli, modbusCounterModuli, type CounterModulus } from './counter-modulus.ts'
import { loadDlt645Profile } from './dlt645/profile.ts'

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
  /** OPC UA: the session the device is on (endpoint, security, user) and every device on it, itself included (one: its own). */
  session?: { label: string; devices: string[] }
  /** DL/T 645: the data identifiers read on each poll, with the quantities each serves. */
  identifiers?: { di: string; points: string[] }[]
  /** Modbus: where the CT / PT ratios of scaled points come from, e.g. `CT holding 0x008E uint16 (read at connect)`. */
  ratios: string[]
  /**
   * The register modulus of each cumulative counter (edge-agent/counter-modulus.ts): what the plant
   * model's device `counterModulus` should say, so reports book a wrap as a rollover.
   */
  counterModuli?: CounterModulus[]
  /** Why the device cannot be planned (unknown profile …); `requests` is then empty. */
  error?: string
  /** With `error`: its code (EDGE_ERR_PROFILE_* for a profile that cannot be loaded or validated). */
  errorCode?: string
  /** With a profile error: every problem of the profile, each with its own code. */
  problems?: ProfileProblem[]
}

/**
 * What the agent will send to each device on every poll (`plantwatt edge plan config.yaml`): the
 * coalesced Modbus read requests with the points each serves, or the OPC UA nodes. Loads the profiles; does no I/O to devices.
 * A device that cannot be planned is reported with its error; the others are still planned.
 */
export function planDevices(config: EdgeConfig): DevicePlan[] {
  // OPC UA devices whose connections make their sessions interchangeable share one (opcua/session.ts).
  const sessions = new Map<string, string[]>()
  for (const d of config.devices)
    if (d.driver === 'opcua' && d.opcua) {
      const key = opcuaSessionKey(d.opcua, deviceKey(d))
      sessions.set(key, [...(sessions.get(key) ?? []), deviceKey(d)])
    }
  return config.devices.map((d) => {
    const endpoint = d.driver === 'opcua' ? `${d.opcua?.endpointUrl ?? '?'} ${d.opcua?.mode ?? ''}`.trim() : endpointOf(d)
    const base = {
      key: deviceKey(d),
      driver: d.driver,
      endpoint,
      profile: d.profile,
      pollIntervalMs: d.pollIntervalMs,
      requests: [] as PlannedRequest[],
      ratios: [] as string[],
      nodes: [] as DevicePlan['nodes'],
    }
    try {
      if (d.driver === 'opcua') {
        const nodes = loadOpcuaProfile(d.profile).points.map((p) => ({ nodeId: p.nodeId, quantity: p.quantity }))
        const session = d.opcua ? { label: opcuaSessionLabel(d.opcua), devices: sessions.get(opcuaSessionKey(d.opcua, deviceKey(d))) ?? [] } : undefined
        return { ...base, nodes, ...(session ? { session } : {}) }
      }
      if (d.driver === 'dlt645') {
        const moduli = dlt645CounterModuli(loadDlt645Profile(d.profile).points)
        return { ...base, endpoint: configuredEndpoint(d), identifiers: dlt645Identifiers(d), ...(moduli.length > 0 ? { counterModuli: moduli } : {}) }
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
      const ratioValues = { ...(d.ctRatio === undefined ? {} : { ct: d.ctRatio }), ...(d.ptRatio === undefined ? {} : { pt: d.ptRatio }) }
      const moduli = modbusCounterModuli(profile.points, ratioValues)
      return { ...base, requests, ratios, ...(moduli.length > 0 ? { counterModuli: moduli } : {}) }
    } catch (err) {
      const code = err instanceof PlantWattError ? err.code : 'EDGE_ERR_PLAN'
      return { ...base, error: describeError(err), errorCode: code, ...(isProfileError(err) ? { problems: profileProblemsOf(err) } : {}) }
    }
  })
}

/** What `plantwatt edge plan` prints and how it exits. */
export interface EdgePlanReport {
  /** The plan of every device, then every problem; what the command prints. */
  text: string
  devices: DevicePlan[]
  /** Mistakes in the config file across devices or in a device's settings (what stops the agent at start). */
  configProblems: ConfigProblem[]
  /** Devices the agent would leave out of polling (profile errors) or could not plan. */
  devicesWithErrors: number
  /** 0 when every device can be polled, else 1. */
  exitCode: 0 | 1
}

/**
 * `plantwatt edge plan`: the plan of every device, each device that cannot be planned with every
 * problem of its profile, then the config mistakes that would stop the agent; exit code 1 when there
 * is any problem. Loads the profiles; does no I/O to devices.
 */
export function edgePlan(config: EdgeConfig, registry: Readonly<Record<string, DriverFactory>> = BUILTIN_DRIVERS): EdgePlanReport {
  const devices = planDevices(config)
  const { problems } = checkEdgeDevices(config, registry)
  // A device's settings mistake is a config problem; its plan line repeats it only when the profile failed too.
  const devicesWithErrors = devices.filter((d) => d.error !== undefined).length
  const lines = [formatPlan(devices)]
  for (const bus of planDlt645Buses(config.devices)) lines.push(...formatDlt645Schedule(bus))
  if (problems.length > 0) {
    lines.push(`edge config: ${problems.length} problem(s) that stop the agent at start (EDGE_ERR_CONFIG)`)
    for (const p of problems) lines.push(`  ${p.path}: ${p.message}`)
  }
  if (devicesWithErrors > 0) {
    lines.push(`${devicesWithErrors} of ${devices.length} device(s) cannot be polled: the agent leaves them out and reports their errors`)
  }
  const exitCode = problems.length > 0 || devicesWithErrors > 0 ? 1 : 0
  return { text: lines.join('\n'), devices, configProblems: problems, devicesWithErrors, exitCode }
}

/** The plan as text, one block per device and one line per request; then every problem (edgePlan's text). */
export function describePlan(config: EdgeConfig): string {
  return edgePlan(config).text
}

function formatPlan(devices: readonly DevicePlan[]): string {
  const lines: string[] = []
  for (const d of devices) {
    lines.push(`${d.key}  ${d.driver} ${d.endpoint}  profile ${d.profile}  every ${d.pollIntervalMs} ms`)
    if (d.error) {
      if (d.problems && d.problems.every((p) => p.path !== '')) {
        // The error's first line, then one line per problem with its own code and where in the profile.
        lines.push(`  error: ${d.error.split('\n')[0]}`)
        for (const p of d.problems) lines.push(`    ${p.code} ${p.path}: ${p.message}`)
      } else lines.push(`  error: ${d.error}`)
      continue
    }
    for (const m of d.counterModuli ?? []) lines.push(`  counter modulus ${m.quantity}: ${m.modulus ?? '?'} (${m.basis}) — plant model device counterModulus`)
    if (d.identifiers) {
      lines.push(`  ${d.identifiers.length} request(s) per poll for ${d.identifiers.reduce((n, r) => n + r.points.length, 0)} point(s)`)
      for (const r of d.identifiers) lines.push(`  DI ${r.di.padEnd(19)} ${r.points.join(', ')}`)
      continue
    }
    if (d.driver === 'opcua') {
      lines.push(`  ${d.nodes.length} node(s)`)
      const others = d.session?.devices.filter((k) => k !== d.key) ?? []
      if (d.session)
        lines.push(`  session ${d.session.label}: ${others.length === 0 ? 'its own' : `shared with ${others.length} other device(s): ${others.join(', ')}`}`)
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
