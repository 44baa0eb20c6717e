/** The edge agent: drivers, profiles, scheduler, outbox and MQTT publisher. */
export {
  startEdgeAgent,
  agentStateAddress,
  checkEdgeDevices,
  type AgentStatus,
  type DeviceSetup,
  type DeviceStatus,
  type EdgeAgentOptions,
  type RunningEdgeAgent,
} from './agent.ts'
export {
  EdgeConfigSchema,
  ModbusConnectionSchema,
  ModbusDeviceSchema,
  ModbusTcpConnectionSchema,
  OpcuaConnectionSchema,
  type EdgeConfig,
  type EdgeDeviceConfig,
  type ModbusConnection,
  type ModbusDeviceConfig,
  type OpcuaConnection,
} from './config.ts'
export { createDiskOutbox, type DiskOutboxOptions, type DiskOutboxSync } from './disk-outbox.ts'
export { describePlan, edgePlan, planDevices, type DevicePlan, type EdgePlanReport, type PlannedRequest } from './describe-plan.ts'
// createOpcuaDriver and ensureOpcuaCertificate: import './opcua/driver.ts' directly (it loads node-opcua).
export { createLazyOpcuaDriver } from './opcua/lazy.ts'
export { loadOpcuaProfile, nodeIdSyntaxProblem, shippedOpcuaProfiles, OpcuaProfileSchema, type OpcuaPoint, type OpcuaProfile } from './opcua/profile.ts'
export type { Driver, PointError, ReadResult } from './driver.ts'
export { BUILTIN_DRIVERS, createDriver, type DriverFactory } from './drivers.ts'
export { createMemoryOutbox, deviceKey, type Outbox, type OutboxBatch } from './outbox.ts'
export { PROFILE_ERROR_CODES, isProfileError, type DeviceProfileError, type ProfileErrorCode, type ProfileProblem } from './profile-error.ts'
export { loadProfile, shippedProfiles, ModbusProfileSchema, type ModbusProfile, type ProfilePoint } from './modbus/profile.ts'
export { createModbusDriver } from './modbus/driver.ts'
export type { StateCounters, StateMessage } from './publisher.ts'
