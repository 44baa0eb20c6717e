import { PlantWattError } from '../../core/errors.ts'
import type { EdgeDeviceConfig, OpcuaConnection } from '../config.ts'
import type { DriverObserver, ObservableDriver } from '../device-table.ts'
import type { Driver, ReadResult } from '../driver.ts'
import type { OpcuaProfile } from './profile.ts'

/** Checks an OPC UA device's settings without loading node-opcua. */
export function checkOpcuaDevice(device: EdgeDeviceConfig): OpcuaConnection {
  if (device.driver !== 'opcua')
    throw new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `device ${device.device}: driver ${JSON.stringify(device.driver)} is not opcua`)
  const conn = device.opcua
  if (!conn) throw new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `device ${device.device}: driver opcua needs an opcua: section (endpointUrl, securityMode …)`)
  if ((conn.securityMode === 'None') !== (conn.securityPolicy === 'None')) {
    throw new PlantWattError(
      'EDGE_ERR_DRIVER_CONFIG',
      `device ${device.device}: securityMode ${conn.securityMode} does not go with securityPolicy ${conn.securityPolicy}`,
    )
  }
  return conn
}

/** How an OPC UA device is named in errors and status: `opc.tcp://h:4840 SignAndEncrypt/Basic256Sha256`. */
export function opcuaEndpointOf(conn: OpcuaConnection): string {
  return `${conn.endpointUrl} ${conn.securityMode}${conn.securityMode === 'None' ? '' : `/${conn.securityPolicy}`}`
}

/**
 * The registry's OPC UA driver: validated at creation like every driver, but node-opcua (about a
 * second to load, and noisy on Node 20) is only imported when the first connect happens, so agents
 * and `plantwatt` commands without OPC UA devices never pay for it.
 */
export function createLazyOpcuaDriver(device: EdgeDeviceConfig, profile: OpcuaProfile): ObservableDriver {
  const conn = checkOpcuaDevice(device)
  let inner: ObservableDriver | undefined
  let observer: DriverObserver | undefined
  let listener: ((result: ReadResult) => void) | undefined
  let unsubscribeInner: (() => void) | undefined
  const load = async (): Promise<Driver> => {
    if (!inner) {
      const { createOpcuaDriver } = await import('./driver.ts')
      inner = createOpcuaDriver(device, profile)
      if (listener && inner.subscribe) unsubscribeInner = inner.subscribe(listener)
      if (observer) inner.observe(observer)
    }
    return inner
  }
  return {
    kind: 'opcua',
    endpoint: opcuaEndpointOf(conn),
    async connect(signal) {
      await (await load()).connect(signal)
    },
    async read(signal) {
      return (await load()).read(signal)
    },
    subscribe(onResult) {
      listener = onResult
      if (inner?.subscribe) unsubscribeInner = inner.subscribe(onResult)
      return () => {
        if (listener === onResult) listener = undefined
        unsubscribeInner?.()
        unsubscribeInner = undefined
      }
    },
    async close() {
      await inner?.close()
    },
    observe(o) {
      observer = o
      inner?.observe(o)
    },
    condition: () => inner?.condition(),
  }
}
