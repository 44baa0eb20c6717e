import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LoadJob, LoadResult } from './load-process.ts'

export type { LoadJob, LoadResult }

/**
 * Runs one load job in a child process (publishers off the broker's core) and returns its result;
 * `onStart` runs when the child's timed section begins (connections made), to sample CPU there.
 */
export function runLoad(job: LoadJob, onStart: () => void = () => undefined, timeoutMs = 300_000): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'load-process.ts')], {
      env: { ...process.env, PW_BENCH_LOAD: JSON.stringify(job) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    let started = false
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      // The child prints "start" once connected, when its timed section begins.
      if (!started && out.includes('"start"')) {
        started = true
        onStart()
      }
    })
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`load (${job.mode}) exited ${code}: ${err}`))
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() as string) as LoadResult)
      } catch (e) {
        reject(new Error(`load (${job.mode}) printed ${out}: ${String(e)}`))
      }
    })
  })
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (Linux; throws elsewhere or once it has exited). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the ")" of the command name: state is field 3, utime 14, stime 15 (1-based).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return ticks / 100
}
