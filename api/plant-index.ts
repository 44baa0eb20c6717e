import { PlantDeviceIndex, type PlantModel } from '../core/plant.ts'
import { DEFAULT_TIMEZONE } from '../core/windows.ts'

/** The plant model, indexed once for the lookups every request makes (core/plant.ts), and its time zone. */
export class PlantIndex extends PlantDeviceIndex {
  readonly timezone: string

  constructor(model: PlantModel | undefined) {
    super(model)
    this.timezone = model?.timezone ?? DEFAULT_TIMEZONE
  }
}
