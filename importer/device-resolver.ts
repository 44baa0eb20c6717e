import { PlantWattError } from '../core/errors.ts'
import { deviceKey, listPlantDevices, type PlantDeviceEntry, type PlantModel } from '../core/plant.ts'
import { addressTags, isValidId, type DeviceAddress } from '../core/topic.ts'
import type { ImportRowCode } from './row-verdict.ts'

/**
 * Whether whoever imports may write this device (the API's tenant check). A refused device is
 * reported exactly like an unknown one (same code, same message): an import must not tell which
 * devices other enterprises have.
 */
export type ImportAuthorizer = (address: DeviceAddress) => boolean

export interface ScanContext {
  plant: PlantModel
  /**
   * A tenant's import: bare ids resolve among this enterprise's devices only, and a full address in
   * another enterprise reads as not in the plant model (whether that device exists or not).
   */
  enterprise?: string
  authorize?: ImportAuthorizer
}

/** A device the file names, resolved once. */
export interface ResolvedDevice {
  address: DeviceAddress
  key: string
  tags: Readonly<Record<string, string>>
  timezone: string
}

export type Resolution = { ok: true; device: ResolvedDevice } | { ok: false; code: ImportRowCode; message: string }

/** Most distinct device texts remembered: a file of ever-new names must not grow memory without bound. */
const RESOLVER_CACHE_MAX = 10_000

/**
 * Resolves device text: `enterprise/site/line/device` must be a device of the plant model (when
 * the model has devices at all), a bare id must name exactly one device of the model (of the
 * importer's enterprise, when it has one). For a tenant, devices of other enterprises and devices
 * that do not exist give the same answer.
 */
export class DeviceResolver {
  private readonly cache = new Map<string, Resolution>()
  private readonly byKey: Map<string, PlantDeviceEntry>
  private readonly byId = new Map<string, PlantDeviceEntry[]>()
  private readonly hasModel: boolean

  constructor(
    private readonly ctx: ScanContext,
    private readonly zoneOverride: string | undefined,
  ) {
    const devices = listPlantDevices(ctx.plant)
    this.hasModel = devices.length > 0
    this.byKey = new Map(devices.map((d) => [deviceKey(d), d]))
    for (const d of devices) {
      if (ctx.enterprise !== undefined && d.enterprise !== ctx.enterprise) continue
      this.byId.set(d.device, [...(this.byId.get(d.device) ?? []), d])
    }
  }

  resolve(text: string): Resolution {
    let r = this.cache.get(text)
    if (r === undefined) {
      r = this.lookup(text.trim())
      if (this.cache.size < RESOLVER_CACHE_MAX) this.cache.set(text, r)
    }
    return r
  }

  /** The one answer for a bare id that names no device (for this importer). */
  private unknownId(text: string): Resolution {
    return {
      ok: false,
      code: 'IMPORT_ERR_DEVICE_UNKNOWN',
      message: `no device with id ${JSON.stringify(text)} in the plant model${this.ctx.enterprise ? ` of enterprise ${this.ctx.enterprise}` : ''}`,
    }
  }

  /** The one answer for a full address that is not (for this importer) in the plant model. */
  private unknownAddress(text: string): Resolution {
    const scope = this.ctx.enterprise !== undefined ? ` of enterprise ${this.ctx.enterprise}` : ''
    return { ok: false, code: 'IMPORT_ERR_DEVICE_UNKNOWN', message: `device ${text} is not in the plant model${scope}` }
  }

  private lookup(text: string): Resolution {
    const parts = text.split('/')
    if ((parts.length !== 1 && parts.length !== 4) || !parts.every(isValidId)) {
      return { ok: false, code: 'IMPORT_ERR_DEVICE_UNKNOWN', message: `${JSON.stringify(text)} is neither enterprise/site/line/device nor a device id` }
    }
    let address: DeviceAddress
    let timezone: string
    if (parts.length === 4) {
      const [enterprise, site, line, device] = parts as [string, string, string, string]
      address = { enterprise, site, line, device }
      // Another enterprise's device, existing or not, is unknown to a tenant: same code, same text.
      if (this.ctx.enterprise !== undefined && enterprise !== this.ctx.enterprise) return this.unknownAddress(text)
      const known = this.byKey.get(deviceKey(address))
      if (!known && this.hasModel) return this.unknownAddress(text)
      timezone = known?.timezone ?? this.ctx.plant.timezone
    } else {
      const candidates = this.byId.get(text) ?? []
      const [only] = candidates
      if (only === undefined) return this.unknownId(text)
      if (candidates.length > 1) {
        return {
          ok: false,
          code: 'IMPORT_ERR_DEVICE_AMBIGUOUS',
          message: `id ${JSON.stringify(text)} names ${candidates.length} devices (${candidates.map(deviceKey).join(', ')}); write enterprise/site/line/device`,
        }
      }
      address = { enterprise: only.enterprise, site: only.site, line: only.line, device: only.device }
      timezone = only.timezone
    }
    if (this.ctx.authorize && !this.ctx.authorize(address)) return parts.length === 4 ? this.unknownAddress(text) : this.unknownId(text)
    const tags = addressTags(address)
    return { ok: true, device: { address, key: deviceKey(address), tags, timezone: this.zoneOverride ?? timezone } }
  }
}

/** The `device` option resolved (the device of every row without one); throws IMPORT_ERR_OPTIONS when it names no device. */
export function resolveFixedDevice(resolver: DeviceResolver, text: string | undefined): ResolvedDevice | undefined {
  if (text === undefined) return undefined
  const r = resolver.resolve(text)
  if (!r.ok) throw new PlantWattError('IMPORT_ERR_OPTIONS', `option device: ${r.message}`, { details: { code: r.code } })
  return r.device
}
