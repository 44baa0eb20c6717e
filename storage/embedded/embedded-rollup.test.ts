import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeStoreContract } from '../store.contract.ts'
import type { AggregateQuery } from '../store.ts'
import { createEmbeddedStore } from './index.ts'

// The whole contract again, every aggregate answered after the roll-up has caught up: whatever the
// planner reads from the 1-minute and 15-minute tables must equal the raw answers the suite expects.
// Retention is long enough that nothing expires (the suite's data is from 2024).
describeStoreContract(
  'embedded',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-embedded-rollup-'))
    const store = createEmbeddedStore({
      path: join(dir, 'plantwatt.db'),
      retention: { rawDays: 100_000, minuteDays: 100_000, quarterHourDays: 100_000 },
      maintenanceIntervalMs: 0,
    })
    const aggregate = store.aggregate.bind(store)
    store.aggregate = (q: AggregateQuery) => {
      store.maintain()
      return aggregate(q)
    }
    return { store, cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
  },
  { writeKeepFirst: true },
)
