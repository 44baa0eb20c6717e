/**
 * `plantwatt edge push` as a process against the project's broker with users and roles and an edge
 * agent connected as its gateway user: the admin's push is applied and answered; the same push as
 * the gateway user is refused by the broker and the agent keeps its devices.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { hashPassword, startBroker } from '../broker/index.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { startEdgeAgent } from '../edge-agent/agent.ts'
import { EdgeConfigSchema, type EdgeConfig } from '../edge-agent/config.ts'
import { SDM630_WORDS } from '../edge-agent/testing/sdm630-fixtures.ts'
import { startTestModbusServer } from '../edge-agent/testing/modbus-server.ts'

const BIN = fileURLToPath(new URL('../bin/plantwatt.js', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'pw-edge-push-'))
const cleanups: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
  rmSync(dir, { recursive: true, force: true })
})

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code) => resolve({ code, out, err }))
  })
}

describe('plantwatt edge push', () => {
  it('the admin pushes a device list the agent applies; a gateway user cannot', async () => {
    const broker = await startBroker(
      {
        host: '127.0.0.1',
        port: 0,
        users: [
          { username: 'central', passwordHash: await hashPassword('central-secret-1'), role: 'admin' },
          { username: 'gw', passwordHash: await hashPassword('gateway-secret-1'), role: 'gateway', enterprise: 'acme', site: 'wuhan' },
        ],
      },
      { logger: silentLogger() },
    )
    cleanups.push(() => broker.close())
    const modbus = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } }, 2: { input: { ...SDM630_WORDS } } } })
    cleanups.push(() => modbus.close())
    const device = (id: string, unitId: number) => ({
      enterprise: 'acme',
      site: 'wuhan',
      line: 'l1',
      device: id,
      driver: 'modbus',
      profile: 'eastron-sdm630',
      pollIntervalMs: 100,
      connection: { host: '127.0.0.1', port: modbus.port, unitId, timeoutMs: 300 },
    })
    const edge = { agentId: 'edge-p', buffer: 'memory', devices: [device('m1', 1)] }
    const agent = await startEdgeAgent({
      config: validateConfig(EdgeConfigSchema, { ...edge, bufferDir: join(dir, 'buf') }, 'test') as EdgeConfig,
      mqtt: { url: broker.url, username: 'gw', password: 'gateway-secret-1', keepaliveS: 30, reconnectPeriodMs: 100 },
    })
    cleanups.push(() => agent.close())
    const cfgFile = join(dir, 'plant.yaml')
    writeFileSync(cfgFile, stringify({ mqtt: { url: broker.url }, edge }))
    const devicesFile = join(dir, 'devices.yaml')
    writeFileSync(devicesFile, stringify({ devices: [device('m1', 1), device('m2', 2)] }))

    const refused = await run(['edge', 'push', '-c', cfgFile, '--devices', devicesFile, '--config-version', '1', '--username', 'gw', '--wait-s', '3'], {
      PLANTWATT_MQTT_PASSWORD: 'gateway-secret-1',
    })
    expect(refused.out + refused.err).toMatch(/the broker refused to let gw read pw\/v1\/acme\/wuhan\/l1\/edge-p\/state/)
    expect(refused.code).toBe(1)
    expect(agent.status().config.version).toBe(0)
    expect(agent.status().devices.map((d) => d.address.device)).toEqual(['m1'])

    const ok = await run(['edge', 'push', '-c', cfgFile, '--devices', devicesFile, '--config-version', '1', '--username', 'central'], {
      PLANTWATT_MQTT_PASSWORD: 'central-secret-1',
    })
    expect(ok.err).toBe('')
    expect(ok.out).toContain('agent edge-p: version 1 (central) in force')
    expect(ok.code).toBe(0)
    expect(
      agent
        .status()
        .devices.map((d) => d.address.device)
        .sort(),
    ).toEqual(['m1', 'm2'])

    const stale = await run(['edge', 'push', '-c', cfgFile, '--devices', devicesFile, '--config-version', '1', '--username', 'central'], {
      PLANTWATT_MQTT_PASSWORD: 'central-secret-1',
    })
    expect(stale.code).toBe(1)
    expect(stale.out).toContain('refused: EDGE_ERR_COMMAND_STALE; version 1 stays in force')
  }, 90_000)
})
