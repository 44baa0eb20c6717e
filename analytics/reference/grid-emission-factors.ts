import type { EmissionFactor, EmissionFactorTable } from './schemas.ts'

/**
 * Grid CO2 emission factors (kg CO2 per kWh of purchased electricity), by region and year, from the
 * Ministry of Ecology and Environment (MEE) and National Bureau of Statistics (NBS) announcements of
 * national, regional-grid and provincial average factors (电力平均二氧化碳排放因子). Regions fall back
 * to their parent (hubei → central-china → national) when they have no factor for a year.
 *
 * - 2021 factors: MEE/NBS 公告2024年第12号 (12 April 2024).
 * - 2022 factors: MEE/NBS announcement of 20 December 2024 (same method and data sources as 2021).
 * - 2023 factors: MEE/NBS 《关于发布2023年电力二氧化碳排放因子的公告》 (January 2026). National and
 *   regional-grid values as published with it (MEE climate department's statement, 光明日报 January
 *   2026); the 2023 regional values also confirm the 2022 ones they are compared with (华中 −2.3 %:
 *   0.5271 / 0.977 = 0.5395; national −1.1 %: 0.5306 vs 0.5366).
 *
 * Not shipped: Hubei's 2023 provincial factor (the announcement's provincial table could not be read
 * here) — a 2023 Hubei answer uses Hubei 2022 (newest year ≤ 2023) and says so; configure
 * `reference.emissionFactors.factors` with `{ region: hubei, year: 2023 }` from the announcement's
 * table. Nor is 0.5703 t CO2/MWh, the figure fixed for enterprises' power-sector emission reporting
 * (MEE notice for 2023–2025 reporting): a reporting convention, not a grid average — configure it
 * (e.g. as region `national-reporting`) where a report requires it.
 */
const MEE = 'MEE/NBS average CO2 emission factors of electricity (national, regional grids, provinces)'
const MEE_2021 = `${MEE}, 2021 factors: 公告2024年第12号 (2024-04-12)`
const MEE_2022 = `${MEE}, 2022 factors: announcement of 2024-12-20`
const MEE_2023 = `${MEE}, 2023 factors: 关于发布2023年电力二氧化碳排放因子的公告 (2026-01)`

/** 2023 regional-grid averages (kg CO2/kWh) as published with the 2023 announcement. */
const REGIONAL_2023: ReadonlyArray<[string, number]> = [
  ['north-china', 0.6361],
  ['northeast-china', 0.5122],
  ['east-china', 0.55],
  ['central-china', 0.5271],
  ['northwest-china', 0.5543],
  ['south-china', 0.4042],
  ['southwest-china', 0.2472],
]

const factor = (region: string, year: number, kgCo2PerKwh: number, source: string, extra: Partial<EmissionFactor> = {}): EmissionFactor => ({
  region,
  year,
  kgCo2PerKwh,
  source,
  verified: true,
  ...extra,
})

export const GRID_EMISSION_FACTORS: EmissionFactorTable = {
  version: 'mee-nbs-2021-2023',
  source: MEE,
  regions: [
    { id: 'national', name: 'China national average' },
    { id: 'north-china', name: 'North China grid (华北)', parent: 'national' },
    { id: 'northeast-china', name: 'Northeast China grid (东北)', parent: 'national' },
    { id: 'east-china', name: 'East China grid (华东)', parent: 'national' },
    { id: 'central-china', name: 'Central China grid (华中: Hubei, Hunan, Henan, Jiangxi)', parent: 'national' },
    { id: 'northwest-china', name: 'Northwest China grid (西北)', parent: 'national' },
    { id: 'south-china', name: 'China Southern grid (南方)', parent: 'national' },
    { id: 'southwest-china', name: 'Southwest China grid (西南)', parent: 'national' },
    { id: 'hubei', name: 'Hubei province', parent: 'central-china' },
    { id: 'national-excl-market-nonfossil', name: 'national average excluding market-traded non-fossil electricity (其他口径)' },
    { id: 'national-fossil', name: 'national fossil-fuel electricity (其他口径)' },
  ],
  factors: [
    factor('national', 2021, 0.5568, MEE_2021, {
      verified: false,
      note: "unverified: not traced to the 2021 table itself; secondary reports of the 2022 release quote it ('0.5366, down from 0.5568'); configure a checked value before reporting 2021 figures",
    }),
    factor('national', 2022, 0.5366, MEE_2022),
    factor('national', 2023, 0.5306, MEE_2023),
    factor('central-china', 2021, 0.5354, MEE_2021),
    factor('central-china', 2022, 0.5395, MEE_2022),
    ...REGIONAL_2023.map(([region, value]) => factor(region, 2023, value, MEE_2023)),
    factor('hubei', 2021, 0.3672, MEE_2021),
    factor('hubei', 2022, 0.4364, MEE_2022),
    factor('national-excl-market-nonfossil', 2023, 0.6096, MEE_2023),
    factor('national-fossil', 2023, 0.8273, MEE_2023),
  ],
}
