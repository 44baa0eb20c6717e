import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { SerialPort } from 'serialport'

/**
 * A socat pty pair for DL/T 645 tests: `a` for the driver, `b` for the simulator. NOTES.md: ptys
 * ignore the baud rate, so timing over them proves nothing about a real 2400-baud line.
 */
export interface PtyPair {
  readonly a: string
  readonly b: string
  up(): Promise<void>
  down(): Promise<void>
}

export function ptyPair(a: string, b: string): PtyPair {
  let socat: ChildProcess | undefined
  return {
    a,
    b,
    async up() {
      for (const f of [a, b]) rmSync(f, { force: true })
      const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' })
      socat = proc
      const until = Date.now() + 5000
      while (!(existsSync(a) && existsSync(b))) {
        if (Date.now() > until || proc.exitCode !== null) throw new Error('socat did not create the pty pair')
        await new Promise((r) => setTimeout(r, 10))
      }
    },
    async down() {
      const proc = socat
      socat = undefined
      if (proc && proc.exitCode === null) {
        const exited = new Promise((r) => proc.on('exit', r))
        proc.kill('SIGTERM')
        await exited
      }
    },
  }
}

/** 1 while a process holds the port open (an exclusive open then fails), else 0. */
export async function portHeld(path: string): Promise<number> {
  const probe = new SerialPort({ path, baudRate: 2400, autoOpen: false, lock: true })
  const held = await new Promise<boolean>((resolve) => probe.open((err) => resolve(err !== null)))
  if (probe.isOpen) await new Promise<void>((resolve) => probe.close(() => resolve()))
  return held ? 1 : 0
}
