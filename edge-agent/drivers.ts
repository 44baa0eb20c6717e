import { PlantWattError } from '../core/errors.ts'
import type { EdgeDeviceConfig } from './config.ts'
import type { Driver } from './driver.ts'
import { createModbusDriver } from './modbus/driver.ts'
import { createLazyOpcuaDriver } from './opcua/lazy.ts'
import { loadOpcuaProfile } from './opcua/profile.ts'
import { loadProfile } from './profile.ts'

/** Builds a driver for one configured device: validates, loads what it needs, does no network I/O. */
export type DriverFactory = (device: EdgeDeviceConfig) => Driver

/** The drivers shipped with the agent, keyed by the device's `driver` value. */
export const BUILTIN_DRIVERS: Readonly<Record<string, DriverFactory>> = Object.freeze({
  modbus: (device: EdgeDeviceConfig) => createModbusDriver(device, loadProfile(device.profile)),
  opcua: (device: EdgeDeviceConfig) => createLazyOpcuaDriver(device, loadOpcuaProfile(device.profile)),
})

/** Creates the driver for `device` from `registry`; EDGE_ERR_DRIVER_UNKNOWN names the known ones. */
export function createDriver(device: EdgeDeviceConfig, registry: Readonly<Record<string, DriverFactory>> = BUILTIN_DRIVERS): Driver {
  const factory = Object.prototype.hasOwnProperty.call(registry, device.driver) ? registry[device.driver] : undefined
  if (!factory) {
    throw new PlantWattError('EDGE_ERR_DRIVER_UNKNOWN', `device ${device.device}: unknown driver ${JSON.stringify(device.driver)} (known: ${Object.keys(registry).join(', ')})`)
  }
  return factory(device)
}
