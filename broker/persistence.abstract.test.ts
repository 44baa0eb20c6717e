import assert from 'node:assert'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { describe, expect, test as vitestTest } from 'vitest'
import { createIndexedMemoryPersistence, type IndexedMemoryPersistence } from './persistence.ts'

/**
 * aedes-persistence's own abstract suite (the contract every Aedes persistence runs: retained
 * messages, subscriptions, outgoing and incoming queues, wills) run against our indexed memory
 * persistence, and against aedes-persistence's memory persistence as a control, so that a failure
 * of ours is told apart from a failure of the shim.
 *
 * The suite is written for node:test: `abstract({ test, persistence, testAsync })` calls
 * `test(name, async (t) => …)` once per case, and the cases use `t.plan(n)`, `t.assert.*` (the
 * node:assert functions, counted towards the plan) and `t.diagnostic`. The shim below gives each
 * case a vitest test and a `t` with those three, and fails a case whose assertion count differs
 * from its plan, as node:test does.
 */

const require = createRequire(import.meta.url)
const abstractPath = require.resolve('aedes-persistence/abstract.js')
type NodeTestFn = (t: ShimContext) => Promise<void> | void
type AbstractSuite = (opts: { test: (name: string, fn: NodeTestFn) => void; persistence: () => unknown; testAsync: boolean }) => void
const abstractPersistence = require(abstractPath) as AbstractSuite
const AsyncMemory = require('aedes-persistence/asyncPersistence.js') as new () => unknown

/** The cases the suite declares, read from its source: each must be registered and run. */
const DECLARED = [...readFileSync(abstractPath, 'utf8').matchAll(/^\s*test\('([^']+)'/gm)].map((m) => m[1] as string)

interface ShimContext {
  plan(count: number): void
  diagnostic(message: string): void
  assert: Record<string, (...args: unknown[]) => unknown>
}

const ASSERTIONS = [
  'ok',
  'equal',
  'notEqual',
  'deepEqual',
  'notDeepEqual',
  'strictEqual',
  'notStrictEqual',
  'deepStrictEqual',
  'notDeepStrictEqual',
  'throws',
  'rejects',
  'doesNotThrow',
  'doesNotReject',
  'match',
  'fail',
] as const

function shimContext(): { t: ShimContext; planned(): number | undefined; counted(): number } {
  let plan: number | undefined
  let count = 0
  const wrapped: ShimContext['assert'] = {}
  for (const name of ASSERTIONS) {
    const fn = (assert as unknown as Record<string, (...args: unknown[]) => unknown>)[name]
    if (typeof fn !== 'function') continue
    wrapped[name] = (...args: unknown[]) => {
      count++
      return fn.apply(assert, args)
    }
  }
  return {
    t: {
      plan(n) {
        plan = n
      },
      diagnostic() {},
      assert: wrapped,
    },
    planned: () => plan,
    counted: () => count,
  }
}

function runAbstractSuite(label: string, persistence: () => unknown): void {
  const registered: string[] = []
  describe(`aedes-persistence abstract suite: ${label}`, () => {
    abstractPersistence({
      testAsync: true,
      persistence,
      test(name, fn) {
        registered.push(name)
        vitestTest(name, async () => {
          const { t, planned, counted } = shimContext()
          await fn(t)
          const plan = planned()
          if (plan !== undefined) expect(counted(), `assertions run (t.plan(${plan}))`).toBe(plan)
        })
      },
    })

    // Registered synchronously by abstract(): every case of the file, none lost by the shim.
    vitestTest('registers every case the suite declares', () => {
      expect(DECLARED.length).toBeGreaterThanOrEqual(50) // 50 in aedes-persistence 11.0.0
      expect(registered).toEqual(DECLARED)
    })
  })
}

/**
 * The suite reads `instance.broker` (the broker given to `setup`) to build will and retained packets:
 * a test accessor aedes-persistence's own persistences have ("for testing we need access to the
 * broker", asyncPersistence.js) and Aedes itself never reads. createIndexedMemoryPersistence has
 * none, so it is added here around the real setup (still an async function, as the suite checks).
 */
function withBrokerAccessor(): IndexedMemoryPersistence {
  const p = createIndexedMemoryPersistence()
  const setup = p.setup.bind(p)
  let broker: unknown
  p.setup = async (b: unknown): Promise<void> => {
    broker = b
    await setup(b)
  }
  // A getter, not a copy: the broker is only known once setup has run.
  return Object.defineProperty(p, 'broker', { get: () => broker, enumerable: true })
}

describe('createIndexedMemoryPersistence itself', () => {
  vitestTest('setup is an async function (Aedes checks it), before any test wrapping', () => {
    expect(createIndexedMemoryPersistence().setup.constructor.name).toBe('AsyncFunction')
  })
})

runAbstractSuite('broker/persistence.ts createIndexedMemoryPersistence', withBrokerAccessor)
runAbstractSuite('control: aedes-persistence asyncPersistence (memory)', () => new AsyncMemory())
