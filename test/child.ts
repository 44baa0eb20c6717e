import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

/** A TypeScript helper script run by node + tsx in its own process. */
export interface ChildScript {
  child: ChildProcess
  pid: number
  /** The first stdout line, parsed as JSON (the script's "ready" message). */
  ready: Record<string, unknown>
  /** What the process wrote on stderr so far (the newest 64 KiB). */
  stderr(): string
  /** Sends a signal and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

/**
 * Starts `test/<script>` with env, and waits (≤ timeoutMs) for its first JSON line on stdout.
 * PW_CHILD_NODE_ARGS (space-separated) adds node options NODE_OPTIONS refuses, e.g. `--cpu-prof`.
 */
export async function startScript(script: string, env: Record<string, string>, timeoutMs = 20_000): Promise<ChildScript> {
  const nodeArgs = (process.env.PW_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(import.meta.dirname, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-65_536)))
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} did not start within ${timeoutMs} ms: ${err}`))
    }, timeoutMs)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) {
        clearTimeout(timer)
        try {
          resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>)
        } catch (e) {
          reject(new Error(`${script} printed ${out.slice(0, nl)}: ${String(e)}`))
        }
      }
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready: ${err}`))
    })
  })
  child.removeAllListeners('exit')
  return {
    child,
    pid: child.pid as number,
    ready,
    stderr: () => err,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
        child.kill(signal)
      })
    },
  }
}
