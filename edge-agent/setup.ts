import type { ConfigProblem } from '../core/config.ts'
import { describeError } from '../core/errors.ts'
import { buildTopic, type DeviceAddress } from '../core/topic.ts'
import type { EdgeConfig, EdgeDeviceConfig } from './config.ts'
import type { Driver } from './driver.ts'
import { BUILTIN_DRIVERS, createDriver, type DriverFactory } from './drivers.ts'
import { busKey, busLocation } from './modbus/client.ts'
import { deviceKey } from './outbox.ts'
import { deviceProfileError, isProfileError, type DeviceProfileError } from './profile-error.ts'
import { checkSharedLines } from './shared-bus-check.ts'

/**
 * Where the agent announces itself: `pw/v1/{e}/{s}/{l}/{agentId}/state`, with e/s/l of the first
 * configured device. MQTT allows one will per connection, so this topic carries the will; each
 * device's own state names the agent (`agent`), which links a device to the agent's liveness.
 */
export function agentStateAddress(config: EdgeConfig): DeviceAddress | undefined {
  const first = config.devices[0]
  return first ? { enterprise: first.enterprise, site: first.site, line: first.line, device: config.agentId } : undefined
}

/** A device's driver, or why it has none: its profile could not be loaded or validated. */
export type DeviceSetup = { driver: Driver; profileError?: undefined } | { driver?: undefined; profileError: DeviceProfileError }

/**
 * Cross-field checks the schema cannot express, then each device's driver. A mistake in the config
 * file (duplicate device, bus settings that disagree, two meters with one address on a line, discovery
 * on a shared line, a device's connection settings) is fatal:
 * every such problem in one EDGE_ERR_CONFIG. A device whose profile cannot be loaded or validated
 * is not: its setup carries the profile error and the agent polls the others. `setups` is
 * aligned with `config.devices` only when `problems` is empty (a device with a config mistake has none).
 */
export function checkEdgeDevices(
  config: EdgeConfig,
  registry: Readonly<Record<string, DriverFactory>> = BUILTIN_DRIVERS,
): { setups: DeviceSetup[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = []
  const seen = new Map<string, number>()
  const agent = agentStateAddress(config)
  const setups: DeviceSetup[] = []
  const buses = new Map<string, { index: number; settings: string }>()
  config.devices.forEach((d, i) => {
    if (d.driver === 'modbus' && d.connection.transport !== 'tcp') {
      // Devices on one bus share one port: its line settings must agree.
      const location = busLocation(d.connection)
      const key = busKey(location)
      const settings = JSON.stringify(location)
      const first = buses.get(key)
      if (!first) buses.set(key, { index: i, settings })
      else if (first.settings !== settings)
        problems.push({ path: `/devices/${i}/connection`, message: `bus ${key} is configured with other line settings at /devices/${first.index}/connection` })
    }
    const key = deviceKey(d)
    const dup = seen.get(key)
    if (dup !== undefined) problems.push({ path: `/devices/${i}`, message: `device ${key} is already configured at /devices/${dup}` })
    seen.set(key, i)
    if (agent && d.enterprise === agent.enterprise && d.site === agent.site && d.line === agent.line && d.device === agent.device) {
      problems.push({
        path: `/devices/${i}/device`,
        message: `device id ${d.device} equals agentId, whose state topic ${buildTopic(agent, 'state')} it would share`,
      })
    }
    try {
      setups.push({ driver: createDriver(d as EdgeDeviceConfig, registry) })
    } catch (err) {
      if (isProfileError(err)) setups.push({ profileError: deviceProfileError(err, d.profile) })
      else problems.push({ path: `/devices/${i}`, message: describeError(err) })
    }
  })
  problems.push(...checkSharedLines(config))
  return { setups, problems }
}
