import type { BenchmarkTable } from './schemas.ts'

/**
 * Unit-product energy consumption levels (lower is better).
 * GB levels 1/2/3: the 单位产品能源消耗限额 (energy consumption quota) standards named per product;
 * level 3 is the mandatory limit for existing plants. NDRC 标杆 (benchmark) / 基准 (baseline): NDRC
 * notices on energy-efficiency benchmark levels in key industrial sectors (2021) and their 2023
 * edition 发改产业〔2023〕723号. Converter steelmaking is negative: recovered gas and steam exceed the
 * energy used.
 */
const NDRC = 'NDRC 工业重点领域能效标杆水平和基准水平 (2021; 2023 edition 发改产业〔2023〕723号)'

export const BENCHMARKS: BenchmarkTable = {
  version: 'gb-ndrc-2025',
  source: `GB 单位产品能源消耗限额 standards (per product); ${NDRC}`,
  products: [
    {
      id: 'cement-clinker',
      name: 'cement clinker',
      indicator: '综合能耗 (comprehensive energy consumption)',
      unit: 'kgce/t',
      standard: 'GB 16780-2021',
      gbLevels: { level1: 100, level2: 107, level3: 117 },
      ndrc: { benchmark: 100, baseline: 117, verified: true },
      source: `GB 16780-2021; ${NDRC}`,
    },
    {
      id: 'cement-clinker-electricity',
      name: 'cement clinker',
      indicator: '综合电耗 (electricity)',
      unit: 'kWh/t',
      standard: 'GB 16780-2021',
      gbLevels: { level1: 48, level2: 57, level3: 61 },
      source: 'GB 16780-2021',
    },
    {
      id: 'cement',
      name: 'cement',
      indicator: '综合能耗',
      unit: 'kgce/t',
      standard: 'GB 16780-2021',
      gbLevels: { level1: 80, level2: 87, level3: 94 },
      source: 'GB 16780-2021',
    },
    {
      id: 'sintering',
      name: 'iron ore sintering',
      indicator: '工序能耗',
      unit: 'kgce/t',
      standard: 'GB 21256-2025',
      gbLevels: { level1: 43, level2: 46, level3: 52 },
      source: 'GB 21256-2025',
    },
    {
      id: 'blast-furnace-ironmaking',
      name: 'blast furnace ironmaking',
      indicator: '工序能耗',
      unit: 'kgce/t',
      standard: 'GB 21256-2025',
      gbLevels: { level1: 361, level2: 370, level3: 415 },
      ndrc: { benchmark: 361, baseline: 435, verified: true },
      source: `GB 21256-2025; ${NDRC}`,
    },
    {
      id: 'converter-steelmaking',
      name: 'converter (BOF) steelmaking',
      indicator: '工序能耗',
      unit: 'kgce/t',
      standard: 'GB 21256-2025',
      gbLevels: { level1: -30, level2: -28, level3: -12 },
      ndrc: { benchmark: -30, baseline: -10, verified: true },
      source: `GB 21256-2025; ${NDRC}`,
      note: 'negative: energy recovered exceeds energy used',
    },
    {
      id: 'eaf-steel-70t',
      name: 'EAF steel (furnace ≥ 70 t)',
      indicator: '工序能耗',
      unit: 'kgce/t',
      standard: 'GB 21256-2025',
      gbLevels: { level1: 61, level2: 64, level3: 72 },
      source: 'GB 21256-2025',
    },
    {
      id: 'coke-stamp-charged',
      name: 'coke (stamp-charged)',
      indicator: '单位产品能耗',
      unit: 'kgce/t',
      standard: 'GB 21342-2025',
      gbLevels: { level1: 115, level2: 115, level3: 140 },
      ndrc: { benchmark: 110, baseline: 140, verified: true },
      source: `GB 21342-2025; ${NDRC}`,
    },
    {
      id: 'electrolytic-aluminium',
      name: 'electrolytic aluminium',
      indicator: '铝液交流电耗 (AC power)',
      unit: 'kWh/t',
      standard: 'GB 21346-2022',
      gbLevels: { level1: 12950, level2: 13000, level3: 13350 },
      ndrc: { benchmark: 13000, baseline: 13350, verified: false },
      source: `GB 21346-2022; ${NDRC}`,
      note: 'NDRC benchmark/baseline unverified: check against the notice before grading against them',
    },
    {
      id: 'alumina-bayer',
      name: 'alumina (Bayer process)',
      indicator: '综合能耗',
      unit: 'kgce/t',
      gbLevels: { level1: 340, level2: 390, level3: 460 },
      source: 'alumina 单位产品能源消耗限额 standard (GB 25327; edition not verified)',
    },
    {
      id: 'silicomanganese',
      name: 'silicomanganese',
      indicator: '综合能耗',
      unit: 'kgce/t',
      standard: 'GB 21341-2022',
      gbLevels: { level1: 850, level2: 860, level3: 950 },
      ndrc: { benchmark: 860, baseline: 950, verified: true },
      source: `GB 21341-2022; ${NDRC}`,
    },
    {
      id: 'ferrosilicon',
      name: 'ferrosilicon',
      indicator: '综合能耗',
      unit: 'kgce/t',
      standard: 'GB 21341-2022',
      gbLevels: { level1: 1700, level2: 1770, level3: 1850 },
      ndrc: { benchmark: 1770, baseline: 1850, verified: true },
      source: `GB 21341-2022; ${NDRC}`,
    },
    {
      id: 'coal-methanol',
      name: 'coal-based methanol',
      indicator: '综合能耗',
      unit: 'kgce/t',
      standard: 'GB 29436-2023',
      gbLevels: { level1: 1380, level2: 1400, level3: 1800 },
      source: 'GB 29436-2023',
    },
  ],
}
