import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PlantWattError } from '../core/errors.ts'
import type { FaultRecord } from './faults.ts'
import type { RunningScenario } from './scenario/run.ts'
import type { FaultInput } from './scenario/schema.ts'

export interface FaultControlOptions {
  /** Default 127.0.0.1 (the endpoint has no authentication: keep it local). */
  host?: string
  /** 0 = a free port (default). */
  port?: number
}

export interface FaultControl {
  /** http://host:port */
  url: string
  close(): Promise<void>
}

/** Largest request body accepted, bytes. */
const MAX_BODY = 64 * 1024

interface Problem {
  path: string
  message: string
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message)
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(new HttpError(413, `body larger than ${MAX_BODY} bytes`))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/**
 * The fault control endpoint of a running scenario (node:http, JSON):
 * - `GET /faults` → 200, the ground-truth list (FaultRecord[], file and injected faults);
 * - `POST /faults` with a fault as in the scenario file (`{ device, kind, start?, end?, … }`; `start`
 *   defaults to the run's clock now) → 201 and the injected FaultRecord with its id; invalid input →
 *   400 `{ error, problems: [{ path, message }] }` listing every problem (unknown device included);
 * - `DELETE /faults/:id` → 200 and the record with `end` = now (the run's clock); 404 unknown id,
 *   409 when it already ended or has not started.
 * Other paths 404, other methods 405.
 */
export async function startFaultControl(
  run: Pick<RunningScenario, 'clock' | 'faults' | 'injectFault' | 'endFault'>,
  options: FaultControlOptions = {},
): Promise<FaultControl> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://control').pathname.replace(/\/+$/, '')
    if (path === '/faults') {
      if (req.method === 'GET') return send(res, 200, run.faults())
      if (req.method !== 'POST') return send(res, 405, { error: `${req.method} not allowed on /faults` }, { allow: 'GET, POST' })
      const text = await readBody(req)
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch (cause) {
        throw new HttpError(400, `body is not JSON: ${(cause as Error).message}`, [{ path: '/', message: 'not JSON' }])
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new HttpError(400, 'body must be a JSON object (one fault)', [{ path: '/', message: 'must be an object' }])
      const spec = { ...(body as Record<string, unknown>) }
      if (spec.start === undefined) spec.start = run.clock()
      let record: FaultRecord
      try {
        record = run.injectFault(spec as unknown as FaultInput)
      } catch (err) {
        if (err instanceof PlantWattError && err.code === 'SIM_ERR_FAULT') throw new HttpError(400, err.message, (err.details as Problem[] | undefined) ?? [])
        throw err
      }
      return send(res, 201, record, { location: `/faults/${record.id}` })
    }
    const m = /^\/faults\/([^/]+)$/.exec(path)
    if (m) {
      if (req.method !== 'DELETE') return send(res, 405, { error: `${req.method} not allowed on ${path}` }, { allow: 'DELETE' })
      const id = Number(m[1])
      if (!Number.isInteger(id) || id < 1) throw new HttpError(404, `no fault ${m[1]}`)
      try {
        return send(res, 200, run.endFault(id))
      } catch (err) {
        if (err instanceof PlantWattError && err.code === 'SIM_ERR_FAULT_NOT_FOUND') throw new HttpError(404, err.message)
        if (err instanceof PlantWattError && err.code === 'SIM_ERR_FAULT_STATE') throw new HttpError(409, err.message)
        throw err
      }
    }
    throw new HttpError(404, `no such resource ${path || '/'}`)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy()
      if (err instanceof HttpError) send(res, err.status, { error: err.message, ...(err.problems.length > 0 ? { problems: err.problems } : {}) })
      else send(res, 500, { error: (err as Error).message })
    })
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  let closed: Promise<void> | undefined
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closed
    },
  }
}
