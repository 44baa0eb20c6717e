import type { EmissionFactorTable } from './schemas.ts'

/**
 * Grid CO2 emission factors (kg CO2 per kWh of purchased electricity), by region and year, from the
 * Ministry of Ecology and Environment (MEE) and National Bureau of Statistics (NBS) publications of
 * national, regional-grid and provincial average factors. Regions fall back to their parent
 * (hubei → central-china → national) when they have no factor for a year.
 * Not included: 0.5703 t CO2/MWh, the figure fixed for enterprises' power-sector emission reporting
 * (MEE notice for 2023–2025 reporting) — it is a reporting convention, not a measured grid average;
 * add it by configuration (e.g. as region `national-reporting`) where a report requires it.
 */
const MEE = 'MEE/NBS average CO2 emission factors of electricity (national, regional grids, provinces)'

export const GRID_EMISSION_FACTORS: EmissionFactorTable = {
  version: 'mee-nbs-2021-2023',
  source: MEE,
  regions: [
    { id: 'national', name: 'China national average' },
    { id: 'central-china', name: 'Central China grid (华中)', parent: 'national' },
    { id: 'hubei', name: 'Hubei province', parent: 'central-china' },
  ],
  factors: [
    {
      region: 'national',
      year: 2021,
      kgCo2PerKwh: 0.5568,
      source: MEE,
      verified: false,
      note: 'inferred, unverified: not traced to its publication; configure a verified value before reporting 2021 figures',
    },
    { region: 'national', year: 2022, kgCo2PerKwh: 0.5366, source: `${MEE}, 2022 factors`, verified: true },
    { region: 'national', year: 2023, kgCo2PerKwh: 0.5306, source: `${MEE}, 2023 factors`, verified: true },
    { region: 'central-china', year: 2021, kgCo2PerKwh: 0.5354, source: `${MEE}, 2021 factors`, verified: true },
    { region: 'central-china', year: 2022, kgCo2PerKwh: 0.5395, source: `${MEE}, 2022 factors`, verified: true },
    { region: 'central-china', year: 2023, kgCo2PerKwh: 0.5271, source: `${MEE}, 2023 factors`, verified: true },
    { region: 'hubei', year: 2021, kgCo2PerKwh: 0.3672, source: `${MEE}, 2021 factors`, verified: true },
    { region: 'hubei', year: 2022, kgCo2PerKwh: 0.4364, source: `${MEE}, 2022 factors`, verified: true },
  ],
}
