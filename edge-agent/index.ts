/** The edge agent: drivers, profiles, scheduler, outbox and MQTT publisher. */
export { startEdgeAgent, agentStateAddress, type AgentStatus, type DeviceStatus, type EdgeAgentOptions, type RunningEdgeAgent } from './agent.ts'
export { EdgeConfigSchema, ModbusDeviceSchema, ModbusTcpConnectionSchema, type EdgeConfig, type EdgeDeviceConfig, type ModbusDeviceConfig } from './config.ts'
export type { Driver, PointError, ReadResult } from './driver.ts'
export { BUILTIN_DRIVERS, createDriver, type DriverFactory } from './drivers.ts'
export { createMemoryOutbox, deviceKey, type Outbox, type OutboxBatch } from './outbox.ts'
export { loadProfile, shippedProfiles, ModbusProfileSchema, type ModbusProfile, type ProfilePoint } from './profile.ts'
export { createModbusDriver } from './modbus/driver.ts'
export type { StateMessage } from './publisher.ts'
