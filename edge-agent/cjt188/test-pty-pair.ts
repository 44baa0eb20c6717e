import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { requireCommand } from '../../test/system.ts'

/** Test helper (never imported by the product): a socat pty pair in a temp folder, restartable. */
export interface PtyPair {
  /** The driver's end. */
  readonly a: string
  /** The simulator's end. */
  readonly b: string
  up(): Promise<void>
  down(): Promise<void>
  cleanup(): Promise<void>
}

export function ptyPair(prefix: string): PtyPair {
  requireCommand('socat', 'socat')
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const a = join(dir, 'ttyA')
  const b = join(dir, 'ttyB')
  let socat: ChildProcess | undefined
  const down = async () => {
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
    async cleanup() {
      await down()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
