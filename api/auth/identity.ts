import { createHash } from 'node:crypto'
import type { Principal } from '../principal.ts'

/** Hex sha256 of a text: how API keys are looked up and how a password hash is fingerprinted. */
export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex')

/** A frozen principal; `enterprise` absent (not undefined) when the principal sees every enterprise. */
export const principalOf = (id: string, role: Principal['role'], enterprise: string | undefined, via: Principal['via']): Principal =>
  Object.freeze(enterprise === undefined ? { id, role, via } : { id, role, enterprise, via })
