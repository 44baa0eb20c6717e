import type { CoalTable } from './schemas.ts'

/**
 * Conversion to standard coal (kgce; 1 kgce = 29.3076 MJ) per GB/T 2589-2020 《综合能耗计算通则》,
 * Appendix A reference coefficients. Electricity uses the equivalent value (当量值, 3.6 MJ/kWh).
 * The equal-value (等价值) coefficient for electricity depends on the year's grid heat rate and the
 * region: it is deliberately not shipped — configure it as carrier `electricity-equal-value`.
 * New water and other energy-consuming media (耗能工质) can be added by configuration.
 */
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
  ],
}
