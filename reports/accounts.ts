import { DEFAULT_REFERENCE, tariffFor, type ReferenceData, type Tariff } from '../analytics/index.ts'
import { defaultPricing, type BillingBasis } from '../analytics/billing.ts'
import { listPlantDevices, type PlantDeviceEntry, type PlantModel, type PlantSite } from '../core/plant.ts'
import { reportError } from './errors.ts'
import { linesOf, type Scope } from './scope.ts'

/**
 * Supply accounts (户号): the incomers a utility bills together, each on its own maximum demand
 * (never pooled). A site without `accounts` is one implicit account made of its lines' energy
 * meters (a line's main meter, else its meters) — the behaviour before accounts, labelled so.
 */

/** How an account came to be. */
export type AccountOrigin = 'configured' | 'implicit-lines'

export interface SupplyAccount {
  enterprise: string
  site: string
  /** The account id; `implicit` for a site without accounts. */
  id: string
  /** enterprise/site/account */
  path: string
  name: string
  origin: AccountOrigin
  /** Meters billed on the account: its incomers, or (implicit) the lines' energy meters. */
  meters: PlantDeviceEntry[]
  timezone: string
  region: string
  voltageKv?: number
  transformerKva?: number
  /** Configured tariff id: the account's, else the site's. */
  tariff?: string
  billingBasis?: BillingBasis
  contractedDemandKw?: number
  /** 力调 standard; default 0.90 (high-voltage industrial users ≥ 160 kVA). */
  powerFactorStandard: number
}

/** The id an implicit account gets. */
export const IMPLICIT_ACCOUNT_ID = 'implicit'

/** Why an account is refused; `details.problem` of the REPORTS_ERR_INPUT error. */
export type AccountProblem = 'account-no-incomer' | 'incomer-not-listed' | 'incomer-unknown-device' | 'incomer-on-two-accounts' | 'account-duplicate-id'

function accountError(problem: AccountProblem, field: string, message: string): Error {
  return reportError('REPORTS_ERR_INPUT', `${field}: ${message}`, { problem, field })
}

/**
 * The accounts of one site, checked: every account has an incomer; each incomer is listed in
 * `site.incomers` and is a device of the site; no incomer is on two accounts.
 */
export function accountsOfSite(model: PlantModel, enterprise: string, site: PlantSite, region: string): SupplyAccount[] {
  const devices = listPlantDevices({ ...model, enterprises: model.enterprises.filter((e) => e.id === enterprise) }).filter((d) => d.site === site.id)
  const byRef = new Map(devices.map((d) => [`${d.line}/${d.device}`, d]))
  const timezone = site.timezone ?? model.timezone
  const base = `enterprises[${enterprise}].sites[${site.id}]`
  if (!site.accounts || site.accounts.length === 0) {
    const lines = linesOf(model, { enterprise, site: site.id })
    return [
      {
        enterprise,
        site: site.id,
        id: IMPLICIT_ACCOUNT_ID,
        path: `${enterprise}/${site.id}/${IMPLICIT_ACCOUNT_ID}`,
        name: `${site.name ?? site.id} (no supply accounts configured: the lines' meters)`,
        origin: 'implicit-lines',
        meters: lines.flatMap((l) => l.energyDevices),
        timezone,
        region,
        ...(site.tariff !== undefined ? { tariff: site.tariff } : {}),
        ...(site.contractedDemandKw !== undefined ? { contractedDemandKw: site.contractedDemandKw } : {}),
        powerFactorStandard: 0.9,
      },
    ]
  }
  const listed = new Set(site.incomers ?? [])
  const owner = new Map<string, string>()
  const ids = new Set<string>()
  return site.accounts.map((a) => {
    const field = `${base}.accounts[${a.id}]`
    if (ids.has(a.id)) throw accountError('account-duplicate-id', field, `account id ${a.id} is used twice in the site`)
    ids.add(a.id)
    if (a.incomers.length === 0) throw accountError('account-no-incomer', `${field}.incomers`, 'an account needs at least one incomer')
    const meters = a.incomers.map((ref) => {
      const f = `${field}.incomers[${ref}]`
      const d = byRef.get(ref)
      if (!d) throw accountError('incomer-unknown-device', f, `${ref} is not a device of site ${site.id}`)
      if (!listed.has(ref)) throw accountError('incomer-not-listed', f, `${ref} is not listed in the site's incomers`)
      const other = owner.get(ref)
      if (other !== undefined) throw accountError('incomer-on-two-accounts', f, `${ref} is already billed on account ${other}`)
      owner.set(ref, a.id)
      return d
    })
    const tariff = a.tariff ?? site.tariff
    return {
      enterprise,
      site: site.id,
      id: a.id,
      path: `${enterprise}/${site.id}/${a.id}`,
      name: a.name ?? a.id,
      origin: 'configured',
      meters,
      timezone,
      region,
      ...(a.voltageKv !== undefined ? { voltageKv: a.voltageKv } : {}),
      ...(a.transformerKva !== undefined ? { transformerKva: a.transformerKva } : {}),
      ...(tariff !== undefined ? { tariff } : {}),
      ...(a.billingBasis !== undefined ? { billingBasis: a.billingBasis } : {}),
      ...(a.contractedDemandKw !== undefined ? { contractedDemandKw: a.contractedDemandKw } : {}),
      powerFactorStandard: a.powerFactorStandard ?? 0.9,
    }
  })
}

/** The accounts of an enterprise or site scope (REPORTS_ERR_SCOPE for an unknown one). */
export function accountsOf(model: PlantModel, scope: Scope): SupplyAccount[] {
  linesOf(model, scope)
  const out: SupplyAccount[] = []
  for (const e of model.enterprises) {
    if (e.id !== scope.enterprise) continue
    for (const s of e.sites) if (scope.site === undefined || s.id === scope.site) out.push(...accountsOfSite(model, e.id, s, e.region))
  }
  return out
}

/** One account by path `enterprise/site/account` (REPORTS_ERR_SCOPE when unknown, REPORTS_ERR_INPUT when malformed). */
export function findAccount(model: PlantModel, path: string): SupplyAccount {
  const parts = path.split('/')
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) {
    throw reportError('REPORTS_ERR_INPUT', `account ${JSON.stringify(path)} is not enterprise/site/account`, { field: 'account' })
  }
  const [enterprise, site, id] = parts as [string, string, string]
  const a = accountsOf(model, { enterprise, site }).find((x) => x.id === id)
  if (!a) throw reportError('REPORTS_ERR_SCOPE', `no supply account ${JSON.stringify(path)} in the plant model`)
  return a
}

/** How an account's tariff was chosen. */
export type AccountTariffChoice = 'configured' | 'by-kva-and-voltage' | 'region-default'

export interface AccountTariff {
  tariff: Tariff
  chosenBy: AccountTariffChoice
  pricing: 'single-part' | 'two-part'
  /** Why: the configured id, or the kVA / voltage rule. */
  reason: string
}

/** Supply voltage assumed when an account does not say (the shipped rows are 1–10 kV). */
const DEFAULT_VOLTAGE_KV = 10

/**
 * The tariff of an account: the configured id (account's, else site's); else the region's row for
 * its voltage (default 10 kV) and pricing — two-part from 315 kVA (or with a billing basis), else
 * single-part (`tariffFor`). An implicit account without a tariff keeps the region's single-part row.
 */
export function tariffOfAccount(account: SupplyAccount, at: number, reference: ReferenceData = DEFAULT_REFERENCE): AccountTariff {
  if (account.tariff !== undefined) {
    const t = reference.tariffs.find((x) => x.id === account.tariff)
    if (!t) {
      throw reportError('REPORTS_ERR_INPUT', `account ${account.path}: tariff ${JSON.stringify(account.tariff)} is not in the reference data`, {
        field: 'tariff',
        known: reference.tariffs.map((x) => x.id),
      })
    }
    const kinds = new Set(t.versions.map((v) => v.kind))
    return { tariff: t, chosenBy: 'configured', pricing: kinds.has('two-part') ? 'two-part' : 'single-part', reason: `tariff ${t.id} configured` }
  }
  const voltageKv = account.voltageKv ?? DEFAULT_VOLTAGE_KV
  const choice =
    account.origin === 'implicit-lines'
      ? { pricing: 'single-part' as const, reason: 'no supply account configured: the region single-part row' }
      : defaultPricing(account.transformerKva, account.billingBasis)
  const found = tariffFor({ region: account.region, voltageKv, pricing: choice.pricing, at }, reference.tariffs)
  return {
    tariff: found.tariff,
    chosenBy: account.origin === 'implicit-lines' ? 'region-default' : 'by-kva-and-voltage',
    pricing: choice.pricing,
    reason: `${choice.reason}; ${voltageKv} kV${account.voltageKv === undefined ? ' (assumed)' : ''}`,
  }
}
