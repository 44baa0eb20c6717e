/**
 * Sends one signed upload over HTTPS (or HTTP for a demo inside one process) and reads the answer.
 * The province's certificate is checked against the configured CA (or the system's); every attempt
 * is signed afresh (new timestamp and nonce), so a retry is never mistaken for a replay.
 */
import { request as httpRequest } from 'node:http'
import { Agent, request as httpsRequest } from 'node:https'
import type { KeyObject } from 'node:crypto'
import { signRequest } from '../province/signing.ts'

export interface UploadAnswer {
  status: number
  body: unknown
}

export interface TransportOptions {
  /** Base URL of the province service, e.g. https://province.example:8443 */
  url: string
  /** PEM of the CA the province's certificate must chain to; default: the system's CAs. */
  ca?: Buffer | string
  enterprise: string
  key: KeyObject
  timeoutMs: number
  now?: () => number
}

export class Transport {
  readonly #agent: Agent
  readonly #opts: TransportOptions

  constructor(opts: TransportOptions) {
    this.#opts = opts
    this.#agent = new Agent({ keepAlive: true, maxSockets: 2, ...(opts.ca === undefined ? {} : { ca: opts.ca }) })
  }

  /** POST `path` with `body`; resolves with status and parsed JSON, rejects on a network failure or timeout. */
  post(path: string, body: Buffer): Promise<UploadAnswer> {
    const target = new URL(path, this.#opts.url)
    const headers = {
      'content-type': 'application/json',
      'content-length': String(body.length),
      ...signRequest(this.#opts.key, this.#opts.enterprise, 'POST', target.pathname, body, (this.#opts.now ?? Date.now)()),
    }
    const secure = target.protocol === 'https:'
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        target,
        { method: 'POST', headers, timeout: this.#opts.timeoutMs, ...(secure ? { agent: this.#agent } : {}) },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('error', reject)
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            let parsed: unknown = text
            try {
              parsed = JSON.parse(text)
            } catch {
              // not JSON (a proxy's error page): keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed })
          })
        },
      )
      req.on('timeout', () => req.destroy(new Error(`no answer from ${target.origin} within ${this.#opts.timeoutMs} ms`)))
      req.on('error', reject)
      req.end(body)
    })
  }

  close(): void {
    this.#agent.destroy()
  }
}
