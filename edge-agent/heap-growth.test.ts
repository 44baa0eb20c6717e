import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const MODULE = fileURLToPath(new URL('./heap-growth.ts', import.meta.url))

/**
 * Runs applyHeapGrowth(percent) in a fresh node, then a full GC with V8's verbose GC trace on, and
 * answers what the function said and the growth factor V8 itself printed for the old generation
 * ("[HeapController] Limit: old size: … KB, new limit: … KB (2.0)").
 */
function inChild(percent: number, nodeFlags: string[] = []): { growth: unknown; factor: number } {
  const code = [
    `import { setFlagsFromString } from 'node:v8'`,
    `import { applyHeapGrowth } from ${JSON.stringify(MODULE)}`,
    `const growth = applyHeapGrowth(${percent})`,
    `console.log(JSON.stringify({ growth }))`,
    `setFlagsFromString('--trace-gc-verbose')`,
    `const keep = []`,
    `for (let i = 0; i < 100000; i++) keep.push({ i, s: 'x' + i })`,
    `globalThis.gc()`,
  ].join('\n')
  const run = spawnSync(process.execPath, [...nodeFlags, '--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  const growth = JSON.parse(run.stdout.split('\n').find((l) => l.startsWith('{"growth"')) ?? 'null') as { growth: unknown } | null
  const factor = /\[HeapController\] Limit: old size: \d+ KB, new limit: \d+ KB \(([\d.]+)\)/.exec(run.stdout)?.[1]
  if (!growth || !factor) throw new Error(`child gave no answer (${run.status}): ${run.stdout.slice(-2000)} ${run.stderr.slice(-2000)}`)
  return { growth: growth.growth, factor: Number(factor) }
}

describe('applyHeapGrowth', () => {
  it("sets V8's old-generation growth factor at run time: 100 → 2.0, 50 → 1.5, as V8's own trace says", () => {
    expect(inChild(100)).toEqual({ growth: { source: 'agent', percent: 100 }, factor: 2 })
    expect(inChild(50)).toEqual({ growth: { source: 'agent', percent: 50 }, factor: 1.5 })
  })

  it("leaves V8's own choice at 0, and a --heap-growing-percent given to node wins", () => {
    expect(inChild(0).growth).toEqual({ source: 'v8' })
    expect(inChild(100, ['--heap-growing-percent=50'])).toEqual({ growth: { source: 'process flag' }, factor: 1.5 })
  })
})
