import { deviceKey, listPlantDevices, type PlantDeviceEntry, type PlantModel } from '../core/plant.ts'
import type { DeviceAddress } from '../core/topic.ts'

export const DEFAULT_TIMEZONE = 'Asia/Shanghai'

/** The plant model, indexed once for the lookups every request makes. */
export class PlantIndex {
  readonly timezone: string
  readonly devices: readonly PlantDeviceEntry[]
  private readonly byKey: Map<string, PlantDeviceEntry>
  private readonly byId = new Map<string, PlantDeviceEntry[]>()

  constructor(model: PlantModel | undefined) {
    this.timezone = model?.timezone ?? DEFAULT_TIMEZONE
    this.devices = model ? listPlantDevices(model) : []
    this.byKey = new Map(this.devices.map((d) => [deviceKey(d), d]))
    for (const d of this.devices) {
      const list = this.byId.get(d.device) ?? []
      list.push(d)
      this.byId.set(d.device, list)
    }
  }

  get(address: DeviceAddress): PlantDeviceEntry | undefined {
    return this.byKey.get(deviceKey(address))
  }

  /** Every device of the model with this id (ids are unique per line, not per plant). */
  withId(id: string): readonly PlantDeviceEntry[] {
    return this.byId.get(id) ?? []
  }
}
