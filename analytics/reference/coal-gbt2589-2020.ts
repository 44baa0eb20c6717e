import type { CoalTable } from './schemas.ts'

/**
 * Conversion to standard coal (kgce; 1 kgce = 29.3076 MJ) per GB/T 2589-2020 《综合能耗计算通则》,
 * Appendix A reference coefficients. Electricity uses the equivalent value (当量值, 3.6 MJ/kWh).
 * The equal-value (等价值) coefficient for electricity depends on the year's grid heat rate and the
 * region: it is deliberately not shipped — configure it as carrier `electricity-equal-value`.
 * New water and other energy-consuming media (耗能工质) can be added by configuration.
 */
const TABULATED = 'GB/T 2589 reference coefficients as commonly tabulated (Appendix A / B); not checked against the 2020 text'

export const COAL_GBT2589_2020: CoalTable = {
  version: 'gbt2589-2020',
  source: 'GB/T 2589-2020 General rules for calculation of the comprehensive energy consumption, Appendix A',
  coefficients: [
    { carrier: 'electricity', unit: 'kWh', kgcePerUnit: 0.1229, description: 'electricity, equivalent value (当量值)' },
    { carrier: 'natural-gas', unit: 'm3', kgcePerUnit: 1.2143, description: 'natural gas' },
    { carrier: 'raw-coal', unit: 'kg', kgcePerUnit: 0.7143, description: 'raw coal' },
    { carrier: 'diesel', unit: 'kg', kgcePerUnit: 1.4571, description: 'diesel oil' },
    { carrier: 'gasoline', unit: 'kg', kgcePerUnit: 1.4714, description: 'gasoline' },
    { carrier: 'lpg', unit: 'kg', kgcePerUnit: 1.7143, description: 'liquefied petroleum gas' },
    { carrier: 'heat', unit: 'MJ', kgcePerUnit: 0.03412, description: 'heat' },
    { carrier: 'steam-low-pressure', unit: 'kg', kgcePerUnit: 0.1286, description: 'low-pressure steam (the pressure basis varies: check against the site)' },
    // Added for issue 15. The values below are the reference coefficients as commonly tabulated from
    // GB/T 2589 Appendix A (fuels, recovered gases: average low calorific value ÷ 29 307.6 kJ/kgce) and
    // Appendix B (energy-consuming working media, 耗能工质); the 2020 text itself was not available to
    // check them, so they ship with `verified: false` and every grade that uses one says so. A site's
    // measured calorific value (实测低位发热量) or its own coefficient (configuration) replaces them.
    { carrier: 'coke', unit: 'kg', kgcePerUnit: 0.9714, description: 'coke, 28 435 kJ/kg', source: TABULATED, verified: false },
    { carrier: 'fuel-oil', unit: 'kg', kgcePerUnit: 1.4286, description: 'fuel oil, 41 816 kJ/kg', source: TABULATED, verified: false },
    { carrier: 'blast-furnace-gas', unit: 'm3', kgcePerUnit: 0.1286, description: 'blast furnace gas, 3 763 kJ/m3', source: TABULATED, verified: false },
    { carrier: 'converter-gas', unit: 'm3', kgcePerUnit: 0.2714, description: 'converter gas (LDG), 7 945 kJ/m3', source: TABULATED, verified: false },
    {
      carrier: 'coke-oven-gas',
      unit: 'm3',
      kgcePerUnit: 0.5714,
      description: 'coke oven gas, 16 726 kJ/m3 (lower end of the tabulated 0.5714–0.6143)',
      source: TABULATED,
      verified: false,
    },
    {
      carrier: 'oxygen',
      unit: 'm3',
      kgcePerUnit: 0.4,
      description: 'oxygen, 11.72 MJ/m3 (energy-consuming working medium)',
      source: TABULATED,
      verified: false,
    },
    {
      carrier: 'compressed-air',
      unit: 'm3',
      kgcePerUnit: 0.04,
      description: 'compressed air, 1.17 MJ/m3 (energy-consuming working medium)',
      source: TABULATED,
      verified: false,
    },
    {
      carrier: 'fresh-water',
      unit: 't',
      kgcePerUnit: 0.0857,
      description: 'fresh water, 2.51 MJ/t (energy-consuming working medium)',
      source: TABULATED,
      verified: false,
    },
  ],
}
