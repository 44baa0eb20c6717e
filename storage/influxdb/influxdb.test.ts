import { afterAll, beforeAll } from 'vitest'
import { startInfluxd, type RunningInfluxd } from '../../test/influxd.ts'
import { describeStoreContract } from '../store.contract.ts'
import { createInfluxStore } from './index.ts'

let influx: RunningInfluxd
let n = 0

beforeAll(async () => {
  influx = await startInfluxd()
})

afterAll(async () => {
  await influx?.stop()
})

// A fresh database per test, dropped afterwards: tests never see each other's points.
describeStoreContract(
  'influxdb',
  async () => {
    const database = `contract_${++n}`
    const store = await createInfluxStore({ url: influx.url, database })
    return {
      store,
      cleanup: async () => {
        await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: `DROP DATABASE "${database}"` }) })
      },
    }
  },
  { writeKeepFirst: false },
)
