/** The enterprise registry: who may upload, with which key, and what the commission knows of them. */
import type { KeyObject } from 'node:crypto'
import { PlantWattError } from '../core/errors.ts'
import { publicKeyText, type EnterpriseEntry } from './config.ts'
import { publicKeyOf } from './signing.ts'

export interface RegisteredEnterprise extends Readonly<EnterpriseEntry> {
  readonly key: KeyObject
}

export class EnterpriseRegistry {
  readonly #byId = new Map<string, RegisteredEnterprise>()

  constructor(entries: readonly EnterpriseEntry[]) {
    for (const e of entries) {
      let key: KeyObject
      try {
        key = publicKeyOf(publicKeyText(e))
      } catch (cause) {
        throw new PlantWattError('PROVINCE_ERR_CONFIG', `enterprise ${e.id}: the public key is not an Ed25519 PEM key`, { cause })
      }
      this.#byId.set(e.id, { ...e, key })
    }
  }

  get(id: string): RegisteredEnterprise | undefined {
    return this.#byId.get(id)
  }

  all(): RegisteredEnterprise[] {
    return [...this.#byId.values()]
  }

  get size(): number {
    return this.#byId.size
  }
}
