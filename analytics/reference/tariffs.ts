import { HUBEI_SINGLE_PART_1_10KV, HUBEI_TWO_PART_1_10KV } from './tariff-hubei-2024.ts'
import type { Tariff } from './schemas.ts'

/** Every shipped tariff, one per region × voltage level × pricing, each with its versions by effective date. */
export const SHIPPED_TARIFFS: Tariff[] = [HUBEI_SINGLE_PART_1_10KV, HUBEI_TWO_PART_1_10KV]
