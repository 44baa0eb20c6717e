import { ID_PATTERN, type DeviceAddress } from '../core/topic.ts'
import { deviceKey, lineKey, listPlantDevices, type PlantDeviceEntry, type PlantLine, type PlantModel } from '../core/plant.ts'
import { reportError } from './errors.ts'

/**
 * A scope names a node of the plant model: an enterprise, a site, a line or a device, written as a
 * path `enterprise[/site[/line[/device]]]`. Reports are asked for a scope and a range.
 */
export interface Scope {
  enterprise: string
  site?: string
  line?: string
  device?: string
}

export type ScopeLevel = 'enterprise' | 'site' | 'line' | 'device'

const ID_RE = new RegExp(ID_PATTERN)

/** Parses `e[/s[/l[/d]]]`; throws REPORTS_ERR_INPUT on a malformed path. */
export function parseScope(text: string): Scope {
  const parts = text.split('/')
  if (parts.length < 1 || parts.length > 4 || parts.some((p) => !ID_RE.test(p))) {
    throw reportError('REPORTS_ERR_INPUT', `scope ${JSON.stringify(text)} is not enterprise[/site[/line[/device]]] of lower-case ids`)
  }
  const [enterprise, site, line, device] = parts as [string, string?, string?, string?]
  return { enterprise, ...(site ? { site } : {}), ...(line ? { line } : {}), ...(device ? { device } : {}) }
}

export function scopeLevel(s: Scope): ScopeLevel {
  return s.device ? 'device' : s.line ? 'line' : s.site ? 'site' : 'enterprise'
}

export function formatScope(s: Scope): string {
  return [s.enterprise, s.site, s.line, s.device].filter((x) => x !== undefined).join('/')
}

/** A line of the plant model with everything reports need to know about it. */
export interface ScopeLine {
  enterprise: string
  site: string
  line: string
  /** 'enterprise/site/line' */
  path: string
  name: string
  timezone: string
  /** Region key for emission factors and the default tariff (enterprise.region). */
  region: string
  /** Tariff id configured for the site, if any. */
  tariff?: string
  contractedDemandKw?: number
  model: PlantLine
  /** Every device of the line, with its full address. */
  devices: PlantDeviceEntry[]
  /**
   * The devices whose energy counters make up the line's energy: its main meter when the model names
   * one, else every device of kind `meter` (never main + sub-meters, never machines or PLCs).
   */
  energyDevices: PlantDeviceEntry[]
  /** The production counter's device when the line has a product. */
  productionDevice?: PlantDeviceEntry
}

/** Every line of the model, in model order. */
export function allLines(model: PlantModel): ScopeLine[] {
  const out: ScopeLine[] = []
  const byLine = new Map<string, PlantDeviceEntry[]>()
  for (const d of listPlantDevices(model)) {
    const key = lineKey(d)
    const list = byLine.get(key)
    if (list) list.push(d)
    else byLine.set(key, [d])
  }
  for (const e of model.enterprises) {
    for (const s of e.sites) {
      const timezone = s.timezone ?? model.timezone
      for (const l of s.lines) {
        const path = lineKey({ enterprise: e.id, site: s.id, line: l.id })
        const devices = byLine.get(path) ?? []
        const main = devices.find((d) => d.mainMeter)
        const production = l.product ? devices.find((d) => d.device === l.product?.productionDevice) : undefined
        out.push({
          enterprise: e.id,
          site: s.id,
          line: l.id,
          path,
          name: l.name ?? l.id,
          timezone,
          region: e.region,
          ...(s.tariff !== undefined ? { tariff: s.tariff } : {}),
          ...(s.contractedDemandKw !== undefined ? { contractedDemandKw: s.contractedDemandKw } : {}),
          model: l,
          devices,
          energyDevices: main ? [main] : devices.filter((d) => d.kind === 'meter'),
          ...(production ? { productionDevice: production } : {}),
        })
      }
    }
  }
  return out
}

/** True when the line lies inside the scope (a device scope contains the device's line). */
export function lineInScope(line: ScopeLine, scope: Scope): boolean {
  return (
    line.enterprise === scope.enterprise && (scope.site === undefined || line.site === scope.site) && (scope.line === undefined || line.line === scope.line)
  )
}

/**
 * The lines of a scope; throws REPORTS_ERR_SCOPE when the scope names nothing of the model (an
 * unknown device on a known line included).
 */
export function linesOf(model: PlantModel, scope: Scope): ScopeLine[] {
  const lines = allLines(model).filter((l) => lineInScope(l, scope))
  const known = lines.length > 0 && (scope.device === undefined || lines.some((l) => l.devices.some((d) => d.device === scope.device)))
  if (!known) throw reportError('REPORTS_ERR_SCOPE', `no ${scopeLevel(scope)} ${JSON.stringify(formatScope(scope))} in the plant model`)
  return lines
}

/** The devices whose energy counters make up a scope's energy (no double counting). */
export function energyDevicesOf(model: PlantModel, scope: Scope): PlantDeviceEntry[] {
  const lines = linesOf(model, scope)
  if (scope.device !== undefined) return lines.flatMap((l) => l.devices.filter((d) => d.device === scope.device))
  return lines.flatMap((l) => l.energyDevices)
}

/** The plant model cut down to one scope (for roll-ups of just that part). */
export function modelOfScope(model: PlantModel, scope: Scope): PlantModel {
  return {
    ...model,
    enterprises: model.enterprises
      .filter((e) => e.id === scope.enterprise)
      .map((e) => ({
        ...e,
        sites: e.sites
          .filter((s) => scope.site === undefined || s.id === scope.site)
          .map((s) => ({ ...s, lines: s.lines.filter((l) => scope.line === undefined || l.id === scope.line) })),
      })),
  }
}

/** The tag filter that selects these devices' series (each address level's distinct values). */
export function deviceFilter(devices: readonly DeviceAddress[]): { enterprise: string[]; site: string[]; line: string[]; device: string[] } {
  const uniq = (xs: string[]): string[] => [...new Set(xs)]
  return {
    enterprise: uniq(devices.map((d) => d.enterprise)),
    site: uniq(devices.map((d) => d.site)),
    line: uniq(devices.map((d) => d.line)),
    device: uniq(devices.map((d) => d.device)),
  }
}

export { deviceKey }
