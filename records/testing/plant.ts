import type { PlantModel } from '../../core/plant.ts'

/** A cement works (a kiln line with clinker as product, a mill line without) and a steel works: the plant of the entry tests. */
export const ENTRY_TEST_PLANT: PlantModel = {
  timezone: 'Asia/Shanghai',
  strict: false,
  enterprises: [
    {
      id: 'hb-cement',
      region: 'hubei',
      attributes: {},
      sites: [
        {
          id: 'plant-a',
          lines: [
            {
              id: 'kiln-1',
              product: { id: 'clinker', unit: 't', productionDevice: 'belt-1' },
              shifts: [],
              devices: [
                { id: 'm1', kind: 'meter', keyEquipment: false, ncCapable: false },
                { id: 'belt-1', kind: 'plc', keyEquipment: false, ncCapable: false },
              ],
            },
            { id: 'mill-1', shifts: [], devices: [{ id: 'm2', kind: 'meter', keyEquipment: false, ncCapable: false }] },
          ],
        },
      ],
    },
    {
      id: 'hb-steel',
      region: 'hubei',
      attributes: {},
      sites: [{ id: 'eaf', lines: [{ id: 'eaf-1', shifts: [], devices: [{ id: 'm1', kind: 'meter', keyEquipment: false, ncCapable: false }] }] }],
    },
  ],
}

/** 2026-03-01 00:00 in Asia/Shanghai (UTC+8), epoch ms. */
export const MARCH_1 = Date.UTC(2026, 1, 28, 16)
export const DAY_MS = 86_400_000

/** The weighbridge total of raw coal burnt on the kiln on day `day` of March 2026 (0 = the 1st), with its measured NCV. */
export function coalDayInput(day: number, amountT: number, ncvKjPerT = 21_500_000): Record<string, unknown> {
  return {
    kind: 'energy',
    enterprise: 'hb-cement',
    site: 'plant-a',
    line: 'kiln-1',
    carrier: 'raw-coal',
    direction: 'import',
    amount: amountT,
    unit: 't',
    start: MARCH_1 + day * DAY_MS,
    end: MARCH_1 + (day + 1) * DAY_MS,
    ncvKjPerUnit: ncvKjPerT,
    source: 'weighbridge',
  }
}
