import Type from 'typebox'
import { validateConfig } from '../core/config.ts'

export const ApiConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'interface to listen on (0.0.0.0 for all)' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port; 0 = any free port' }),
    maxRangeDays: Type.Integer({ minimum: 1, default: 400, description: 'longest time range one query may span, in days' }),
    maxPoints: Type.Integer({ minimum: 1, default: 100_000, description: 'most rows (windows) one answer may hold' }),
    liveWindowS: Type.Integer({ minimum: 1, default: 3600, description: 'how far back /live and /devices look for telemetry, in seconds' }),
    onlineAfterMs: Type.Integer({ minimum: 1, default: 10_000, description: 'a device is online when its newest sample is at most this old, in ms' }),
  },
  { additionalProperties: false },
)

export type ApiConfig = Type.Static<typeof ApiConfigSchema>

/** Fills defaults and validates; throws CORE_ERR_CONFIG naming every bad key. */
export function resolveApiConfig(partial: Partial<ApiConfig> = {}): Readonly<ApiConfig> {
  return validateConfig(ApiConfigSchema, partial, 'api')
}
