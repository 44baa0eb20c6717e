import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SerialPort } from 'serialport'
import { requireCommand } from '../../test/system.ts'

/**
 * Test helper (the product never imports testing/): a socat pty pair — a real serial line between
 * `a` (the driver's end) and `b` (the simulator's end), restartable. NOTES.md: ptys ignore the baud
 * rate, so timing over them proves nothing about a real line.
 */
export interface PtyPair {
  readonly a: string
  readonly b: string
  up(): Promise<void>
  down(): Promise<void>
  /** down(), and the temporary folder removed (ptyPair only). */
  cleanup(): Promise<void>
}

/** A pair whose ends are the links `a` and `b` (their folder is the caller's). */
export function ptyPairAt(a: string, b: string): PtyPair {
  requireCommand('socat', 'socat')
  let socat: ChildProcess | undefined
  const down = async (): Promise<void> => {
    const proc = socat
    socat = undefined
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.on('exit', r))
      proc.kill('SIGTERM')
      await exited
    }
  }
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
    down,
    cleanup: down,
  }
}

/** A pair in a temporary folder of its own, removed by cleanup(). */
export function ptyPair(prefix: string): PtyPair {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const pair = ptyPairAt(join(dir, 'ttyA'), join(dir, 'ttyB'))
  return {
    ...pair,
    async cleanup() {
      await pair.down()
      rmSync(dir, { recursive: true, force: true })
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
