/**
 * An OPC UA machine server in its own process, so that faults can be what they are on a plant:
 * SIGKILL (no goodbye on the socket), SIGSTOP (the port accepts, nothing answers), a restart on the
 * same port, a restart with a regenerated certificate, a node removed under its clients.
 *
 *   node --import tsx simulators/opcua/server-process.ts child   # spec in PW_OPCUA_SERVER (JSON)
 *
 * The parent reads one JSON line (endpoint, node ids, certificate) on the child's stdout and sends
 * commands as JSON lines on its stdin.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { PlantWattError } from '../../core/errors.ts'
import type { MachineSnapshot } from './machine.ts'
import type { MachineVariable } from './server.ts'

export interface OpcuaServerProcessOptions {
  /** TCP port; 0 = a free one (default). Pass the previous port to restart "the same" server. */
  port?: number
  /** PKI folder of the server (its own certificate under server/own). Reuse it to keep the certificate. */
  pkiFolder: string
  /** Deletes the server's own certificate and key before starting, so it makes new ones (the agent no longer trusts it). */
  newCertificate?: boolean
  name: string
  /** Machine ids; each gets the variables of startOpcuaMachineServer. */
  machines: readonly string[]
  /** Client application certificates (DER, base64) the server trusts. */
  trust?: readonly string[]
  /** Values change every `tickMs` (PartCount counts ticks). Default 100. */
  tickMs?: number
}

export interface OpcuaServerProcess {
  readonly endpointUrl: string
  readonly port: number
  readonly pid: number
  readonly nodeIds: Readonly<Record<string, Readonly<Record<MachineVariable, string>>>>
  /** The server's application certificate, DER. */
  readonly certificate: Buffer
  removeVariable(machineId: string, variable: MachineVariable): Promise<void>
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT …) to the server process. */
  signal(signal: NodeJS.Signals): void
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
  /** SIGTERM (SIGCONT first, in case it was stopped), then SIGKILL after 3 s. */
  stop(): Promise<void>
}

interface ChildInfo {
  endpointUrl: string
  port: number
  nodeIds: Record<string, Record<MachineVariable, string>>
  certificate: string
}

const SELF = fileURLToPath(import.meta.url)

/** Starts the server process and waits until it listens (PlantWattError SIM_ERR_OPCUA if it dies first). */
export async function startOpcuaServerProcess(options: OpcuaServerProcessOptions): Promise<OpcuaServerProcess> {
  if (options.newCertificate) rmSync(join(options.pkiFolder, 'server', 'own'), { recursive: true, force: true })
  const proc = spawn(process.execPath, ['--import', 'tsx', SELF, 'child'], {
    env: { ...process.env, PW_OPCUA_SERVER: JSON.stringify(options) },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  const info = await new Promise<ChildInfo>((resolveInfo, reject) => {
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
    lines.on('line', (line) => {
      // node-opcua writes its own lines on stdout: the answer is the line that starts the JSON.
      if (line.startsWith('{"endpointUrl"')) resolveInfo(JSON.parse(line) as ChildInfo)
    })
    void exited.then(() => reject(new PlantWattError('SIM_ERR_OPCUA', `OPC UA server process ${options.name} exited before listening: ${stderr}`)))
  })
  return {
    endpointUrl: info.endpointUrl,
    port: info.port,
    pid: proc.pid as number,
    nodeIds: info.nodeIds,
    certificate: Buffer.from(info.certificate, 'base64'),
    removeVariable: (machineId, variable) => command(proc, { op: 'remove', machineId, variable }),
    signal: (signal) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
    },
    exited,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000)
      proc.kill('SIGCONT')
      proc.kill('SIGTERM')
      await exited
      clearTimeout(timer)
    },
  }
}

/** One command on the child's stdin; resolves on its "ok" line. */
function command(proc: ChildProcess, cmd: { op: 'remove'; machineId: string; variable: MachineVariable }): Promise<void> {
  return new Promise<void>((resolveDone, reject) => {
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
    const timer = setTimeout(() => {
      lines.close()
      reject(new PlantWattError('SIM_ERR_OPCUA', `OPC UA server process: no answer to ${cmd.op}`))
    }, 5000)
    lines.on('line', (line) => {
      if (line !== `ok ${cmd.op}`) return
      clearTimeout(timer)
      lines.close()
      resolveDone()
    })
    proc.stdin?.write(`${JSON.stringify(cmd)}\n`)
  })
}

async function runChild(options: OpcuaServerProcessOptions): Promise<void> {
  const { startOpcuaMachineServer } = await import('./server.ts')
  let tick = 0
  const snapshot = (): MachineSnapshot => ({
    ts: Date.now(),
    state: 2,
    stateName: 'running',
    powerKw: 40 + (tick % 10),
    energyKwh: 1000 + tick / 100,
    partCount: tick,
    product: 'disc',
  })
  const server = await startOpcuaMachineServer({
    port: options.port ?? 0,
    pkiFolder: options.pkiFolder,
    name: options.name,
    machines: options.machines.map((id) => ({ id, kind: 'cnc' as const, snapshot })),
  })
  for (const der of options.trust ?? []) await server.trustCertificate(Buffer.from(der, 'base64'))
  const timer = setInterval(() => {
    tick++
    server.publish()
  }, options.tickMs ?? 100)
  const info: ChildInfo = {
    endpointUrl: server.endpointUrl,
    port: server.port,
    nodeIds: server.nodeIds as ChildInfo['nodeIds'],
    certificate: server.certificate().toString('base64'),
  }
  process.stdout.write(`${JSON.stringify(info)}\n`)
  createInterface({ input: process.stdin }).on('line', (line) => {
    const cmd = JSON.parse(line) as { op: string; machineId: string; variable: MachineVariable }
    if (cmd.op === 'remove') server.removeVariable(cmd.machineId, cmd.variable)
    process.stdout.write(`ok ${cmd.op}\n`)
  })
  // The parent went away (its end of stdin closed): no orphan server.
  process.stdin.once('end', () => process.exit(0))
  process.once('SIGTERM', () => {
    clearInterval(timer)
    void server.close().finally(() => process.exit(0))
  })
}

if (process.argv[1] && resolve(process.argv[1]) === SELF && process.argv[2] === 'child') {
  await runChild(JSON.parse(process.env.PW_OPCUA_SERVER ?? '{}') as OpcuaServerProcessOptions)
}
