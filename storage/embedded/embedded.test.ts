import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeStoreContract } from '../store.contract.ts'
import { createEmbeddedStore } from './index.ts'

describeStoreContract(
  'embedded',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-embedded-'))
    return {
      store: createEmbeddedStore({ path: join(dir, 'nested', 'plantwatt.db') }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    }
  },
  { writeKeepFirst: true },
)
