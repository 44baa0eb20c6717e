import Type, { type TUnsafe } from 'typebox'
import { ID_PATTERN } from '../core/topic.ts'

/** A string limited to `values`, as a plain JSON-schema enum (one readable validation message). */
export function StringEnum<const T extends string>(values: readonly T[], options: { description?: string; default?: T } = {}): TUnsafe<T> {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options })
}

export const IdSchema = (description: string) => Type.String({ pattern: ID_PATTERN, description })

/** Query parameters that narrow a listing to part of the plant. */
export const AddressFilterSchema = Type.Object(
  {
    enterprise: Type.Optional(IdSchema('only this enterprise')),
    site: Type.Optional(IdSchema('only this site')),
    line: Type.Optional(IdSchema('only this line')),
    device: Type.Optional(IdSchema('only this device id')),
  },
  { additionalProperties: false },
)

export const InstantSchema = (description: string) =>
  Type.String({ minLength: 1, maxLength: 40, description: `${description}: epoch ms or ISO 8601; without an offset, wall-clock time in the plant's time zone` })

export const QualitySchema = StringEnum(['uncertain', 'bad'] as const)
