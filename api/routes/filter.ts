import type { DeviceAddress } from '../../core/topic.ts'
import { TELEMETRY_TAGS, type TagFilter } from '../../storage/store.ts'

export type AddressFilter = Partial<DeviceAddress>

/** The store tag filter for the address parts given; undefined when none narrows the query. */
export function tagFilterOf(q: AddressFilter): TagFilter | undefined {
  const filter: Record<string, string> = {}
  for (const tag of TELEMETRY_TAGS) {
    const value = q[tag]
    if (value !== undefined) filter[tag] = value
  }
  return Object.keys(filter).length > 0 ? filter : undefined
}

export function matchesFilter(a: DeviceAddress, q: AddressFilter): boolean {
  return TELEMETRY_TAGS.every((tag) => q[tag] === undefined || q[tag] === a[tag])
}
