/** The upload endpoint's logic without HTTP: authenticate, refuse replays, validate, store, receipt. */
import { createHash } from 'node:crypto'
import { PlantWattError } from '../core/errors.ts'
import { ownFormat, parseUpload, type Receipt, type UploadAdapter } from './message.ts'
import type { EnterpriseRegistry } from './registry.ts'
import { checkSignature, readSignedHeaders } from './signing.ts'
import type { ProvinceStore } from './store.ts'

export interface ReceiveDeps {
  store: ProvinceStore
  registry: EnterpriseRegistry
  now: () => number
  skewMs: number
  adapter?: UploadAdapter
}

export interface UploadRequest {
  method: string
  /** The path the client signed (without query). */
  path: string
  headers: Readonly<Record<string, string | string[] | undefined>>
  body: Buffer
}

/**
 * In this order, so that nobody learns anything before proving who they are: signature headers and
 * key (PROVINCE_ERR_AUTH), nonce not seen before (PROVINCE_ERR_REPLAY), body parses and validates
 * (PROVINCE_ERR_MALFORMED / PROVINCE_ERR_INVALID), the body's enterprise is the signer
 * (PROVINCE_ERR_FORBIDDEN), then every record stored in one transaction (all or none).
 */
export function receiveUpload(deps: ReceiveDeps, req: UploadRequest): Receipt {
  const now = deps.now()
  const h = readSignedHeaders(req.headers)
  const enterprise = deps.registry.get(h.enterprise)
  if (!enterprise) throw new PlantWattError('PROVINCE_ERR_AUTH', `enterprise ${h.enterprise} is not registered`)
  checkSignature(enterprise.key, h, req.method, req.path, req.body, now, deps.skewMs)
  if (!deps.store.useNonce(h.enterprise, h.nonce, h.timestamp, now - 2 * deps.skewMs)) {
    throw new PlantWattError('PROVINCE_ERR_REPLAY', `nonce ${h.nonce} of ${h.enterprise} was used before: a replayed request`)
  }
  const body = parseUpload(req.body, deps.adapter ?? ownFormat)
  if (body.enterprise !== h.enterprise) {
    throw new PlantWattError('PROVINCE_ERR_FORBIDDEN', `${h.enterprise} may not upload data of ${body.enterprise}`, {
      details: [{ path: '/enterprise', message: 'not the signer' }],
    })
  }
  const receipt = createHash('sha256').update(h.enterprise).update('\n').update(h.nonce).update('\n').update(req.body).digest('hex')
  const { stored, duplicates } = deps.store.storeUpload(h.enterprise, body.records, now, receipt)
  return { receipt, enterprise: h.enterprise, receivedAt: now, stored, duplicates }
}
