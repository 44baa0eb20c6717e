/**
 * Signed requests: each upload carries its enterprise id, a timestamp, a fresh nonce and an Ed25519
 * signature over those and the SHA-256 of the exact body bytes (README "Credentials" says why this
 * and not client certificates). The province refuses a timestamp outside the window and a nonce it
 * has seen: a captured request cannot be replayed, while a retry (new nonce) is answered idempotently.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { PlantWattError } from '../core/errors.ts'

export const SIGNATURE_SCHEME = 'pw-ed25519-v1'
export const HEADERS = {
  enterprise: 'x-pw-enterprise',
  timestamp: 'x-pw-timestamp',
  nonce: 'x-pw-nonce',
  signature: 'x-pw-signature',
} as const
/** A request older or newer than this (ms) against the province clock is refused. */
export const DEFAULT_SKEW_MS = 300_000

/** The bytes signed: scheme, method, path, enterprise, timestamp, nonce, body hash, one per line. */
export function signedText(method: string, path: string, enterprise: string, timestamp: number, nonce: string, body: Buffer): string {
  const bodyHash = createHash('sha256').update(body).digest('hex')
  return [SIGNATURE_SCHEME, method.toUpperCase(), path, enterprise, String(timestamp), nonce, bodyHash].join('\n')
}

/** Reads an Ed25519 key from PEM text. */
export function privateKeyOf(pem: string): KeyObject {
  const key = createPrivateKey(pem)
  if (key.asymmetricKeyType !== 'ed25519') throw new PlantWattError('PROVINCE_ERR_KEY', `the private key is ${key.asymmetricKeyType ?? 'unknown'}, not ed25519`)
  return key
}
export function publicKeyOf(pem: string): KeyObject {
  const key = createPublicKey(pem)
  if (key.asymmetricKeyType !== 'ed25519') throw new PlantWattError('PROVINCE_ERR_KEY', `the public key is ${key.asymmetricKeyType ?? 'unknown'}, not ed25519`)
  return key
}

/** Headers for one request (a new nonce each call: every retry is a new request). */
export function signRequest(
  key: KeyObject,
  enterprise: string,
  method: string,
  path: string,
  body: Buffer,
  now: number = Date.now(),
  nonce: string = randomBytes(16).toString('base64url'),
): Record<string, string> {
  const signature = sign(null, Buffer.from(signedText(method, path, enterprise, now, nonce, body)), key).toString('base64')
  return { [HEADERS.enterprise]: enterprise, [HEADERS.timestamp]: String(now), [HEADERS.nonce]: nonce, [HEADERS.signature]: signature }
}

export interface SignedHeaders {
  enterprise: string
  timestamp: number
  nonce: string
  signature: Buffer
}

/** The signature headers of a request; PROVINCE_ERR_AUTH naming the missing or bad one. */
export function readSignedHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): SignedHeaders {
  const one = (name: string): string => {
    const v = headers[name]
    if (typeof v !== 'string' || v === '') throw new PlantWattError('PROVINCE_ERR_AUTH', `header ${name} is missing`)
    return v
  }
  const timestamp = Number(one(HEADERS.timestamp))
  if (!Number.isSafeInteger(timestamp)) throw new PlantWattError('PROVINCE_ERR_AUTH', `header ${HEADERS.timestamp} is not epoch ms`)
  const nonce = one(HEADERS.nonce)
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) throw new PlantWattError('PROVINCE_ERR_AUTH', `header ${HEADERS.nonce} must be 16–64 base64url characters`)
  return { enterprise: one(HEADERS.enterprise), timestamp, nonce, signature: Buffer.from(one(HEADERS.signature), 'base64') }
}

/** Throws PROVINCE_ERR_AUTH unless the signature is the enterprise key's over this request and fresh. */
export function checkSignature(key: KeyObject, h: SignedHeaders, method: string, path: string, body: Buffer, now: number, skewMs = DEFAULT_SKEW_MS): void {
  if (Math.abs(now - h.timestamp) > skewMs) {
    throw new PlantWattError(
      'PROVINCE_ERR_AUTH',
      `request timestamp is ${Math.round((h.timestamp - now) / 1000)} s from the province clock (allowed ±${skewMs / 1000} s)`,
    )
  }
  const ok = verify(null, Buffer.from(signedText(method, path, h.enterprise, h.timestamp, h.nonce, body)), key, h.signature)
  if (!ok) throw new PlantWattError('PROVINCE_ERR_AUTH', `signature does not verify with the key registered for ${h.enterprise}`)
}
