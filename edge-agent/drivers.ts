import { PlantWattError } from '../core/errors.ts'
import type { EdgeDeviceConfig } from './config.ts'
import { checkCjt188Device, cjt188EndpointOf, createCjt188Driver } from './cjt188/driver.ts'
import { loadCjt188Profile } from './cjt188/profiles.ts'
import type { Driver } from './driver.ts'
import { checkDlt645Device, createDlt645Driver, dlt645EndpointOf } from './dlt645/driver.ts'
import { loadDlt645Profile } from './dlt645/profile.ts'
import { checkModbusDevice, createModbusDriver, endpointOf } from './modbus/driver.ts'
import { checkOpcuaDevice, createLazyOpcuaDriver, opcuaEndpointOf } from './opcua/lazy.ts'
import { loadOpcuaProfile } from './opcua/profile.ts'
import { loadProfile } from './modbus/profile.ts'

/**
 * Builds a driver for one configured device: validates, loads what it needs, does no network I/O.
 * A profile that cannot be loaded or validated is thrown as a profile error (profile-error.ts,
 * EDGE_ERR_PROFILE_*): the agent then leaves that device out and polls the others. Any other error
 * is a mistake in the config file and stops the agent at start (EDGE_ERR_CONFIG).
 */
export type DriverFactory = (device: EdgeDeviceConfig) => Driver

/**
 * The drivers shipped with the agent, keyed by the device's `driver` value. The device's own
 * settings are checked before its profile is loaded, so that a config mistake is never hidden
 * behind a profile error.
 */
export const BUILTIN_DRIVERS: Readonly<Record<string, DriverFactory>> = Object.freeze({
  modbus: (device: EdgeDeviceConfig) => {
    checkModbusDevice(device)
    return createModbusDriver(device, loadProfile(device.profile))
  },
  opcua: (device: EdgeDeviceConfig) => {
    checkOpcuaDevice(device)
    return createLazyOpcuaDriver(device, loadOpcuaProfile(device.profile))
  },
  cjt188: (device: EdgeDeviceConfig) => {
    checkCjt188Device(device)
    return createCjt188Driver(device, loadCjt188Profile(device.profile))
  },
  dlt645: (device: EdgeDeviceConfig) => {
    checkDlt645Device(device)
    return createDlt645Driver(device, loadDlt645Profile(device.profile))
  },
})

/** Creates the driver for `device` from `registry`; EDGE_ERR_DRIVER_UNKNOWN names the known ones. */
export function createDriver(device: EdgeDeviceConfig, registry: Readonly<Record<string, DriverFactory>> = BUILTIN_DRIVERS): Driver {
  const factory = Object.hasOwn(registry, device.driver) ? registry[device.driver] : undefined
  if (!factory) {
    throw new PlantWattError(
      'EDGE_ERR_DRIVER_UNKNOWN',
      `device ${device.device}: unknown driver ${JSON.stringify(device.driver)} (known: ${Object.keys(registry).join(', ')})`,
    )
  }
  return factory(device)
}

/** How a device is named in status and errors when it has no driver (its profile could not be loaded). */
export function configuredEndpoint(device: EdgeDeviceConfig): string {
  if (device.driver === 'opcua') return device.opcua ? opcuaEndpointOf(device.opcua) : '?'
  if (device.driver === 'cjt188') return device.cjt188 ? cjt188EndpointOf(device.cjt188, device.cjt188.meterType ?? 0) : '?'
  if (device.driver === 'dlt645') return device.dlt645 ? dlt645EndpointOf(device.dlt645) : '?'
  return endpointOf(device)
}
