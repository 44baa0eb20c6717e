import { setFlagsFromString } from 'node:v8'
import type { Logger } from '../core/logger.ts'

const FLAG = /--heap[-_]growing[-_]percent\b/

/** Where the process' V8 heap growth comes from. */
export type HeapGrowth = { source: 'agent'; percent: number } | { source: 'process flag' } | { source: 'v8' }

/**
 * Sets V8's old-generation growth (`--heap-growing-percent`) for the whole process, the edge
 * agent's `heapGrowingPercent`. Why: V8 chooses the factor by which the old generation may grow
 * before the next mark-compact from GC speed against allocation speed; a mostly idle agent allocates
 * slowly and gets the smallest factor, and with node-opcua and the runtime holding ≈ 67 MiB live,
 * the OPC UA bench measured a mark-compact every 0.4–1 s, V8's helper threads then using 2–3 × the
 * main thread's CPU (README, Measured). 100 (a factor of 2) removed it, for a heap up to twice the live one.
 * `percent` 0 leaves V8's own choice; a `--heap-growing-percent` given to node (command line or
 * NODE_OPTIONS) is the operator's and is kept. V8 reads the flag at every mark-compact, so setting
 * it at the agent's start takes effect from the next one (checked by heap-growth.test.ts against
 * V8's own trace).
 */
export function applyHeapGrowth(percent: number, logger?: Logger): HeapGrowth {
  if ([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => FLAG.test(a))) return { source: 'process flag' }
  if (percent <= 0) return { source: 'v8' }
  setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`)
  logger?.debug({ heapGrowingPercent: percent }, 'V8 heap growth set')
  return { source: 'agent', percent: Math.round(percent) }
}
