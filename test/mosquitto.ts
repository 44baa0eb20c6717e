import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './influxd.ts'
import { requireCommand } from './system.ts'

/** A real Mosquitto (Debian package mosquitto) on a free loopback port, config in a temp folder. */
export interface RunningMosquitto {
  url: string
  port: number
  pid: number
  stop(): Promise<void>
}

export async function startMosquitto(): Promise<RunningMosquitto> {
  requireCommand('mosquitto', 'mosquitto')
  const dir = mkdtempSync(join(tmpdir(), 'pw-mosquitto-'))
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  // max_queued_messages: the default 1000 would drop QoS 1 messages for a persistent session that
  // is away; ingest relies on them being kept (see docs/scaling.md).
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'max_queued_messages 100000',
      'max_inflight_messages 0',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  )
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)))
  const deadline = Date.now() + 10_000
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (up) break
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`mosquitto did not start on port ${port}: ${log}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: child.pid as number,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
