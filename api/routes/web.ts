import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from '../context.ts'
import { uiBundle } from '../web/bundle.ts'

const WEB = new URL('../web/', import.meta.url)

const JS = 'text/javascript; charset=utf-8'

/** The files of the web UI read as they are, once at start: our style sheet and the one chart library (uPlot, ~50 kB). */
const ASSETS: Record<string, { url: URL; type: string }> = {
  'app.css': { url: new URL('app.css', WEB), type: 'text/css; charset=utf-8' },
  'uplot.js': { url: new URL(import.meta.resolve('uplot/dist/uPlot.iife.min.js')), type: JS },
  'uplot.css': { url: new URL(import.meta.resolve('uplot/dist/uPlot.min.css')), type: 'text/css; charset=utf-8' },
}

/** The files of the UI as served under /ui/ (the page itself is `/`); app.js is bundled from api/web/src at start. */
export const UI_FILES = ['app.js', ...Object.keys(ASSETS)]

/** True when Accept-Encoding allows gzip (and does not refuse it with q=0). */
function acceptsGzip(header: string | string[] | undefined): boolean {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '')
  return text.split(',').some((part) => {
    const [name, ...params] = part.trim().split(';')
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    return (name === 'gzip' || name === '*') && (q === undefined || Number(q.slice(2)) > 0)
  })
}

/**
 * The built-in web UI at `/` (one page, views by URL fragment) and its assets under /ui/. The script
 * is bundled from the TypeScript sources in memory when the first API of the process starts
 * (api/web/bundle.ts, esbuild, ~30 ms); every file is gzipped once and sent compressed to browsers
 * that accept it.
 */
export const webRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app) => {
  const html = await readFile(new URL('index.html', WEB), 'utf8')
  const files = new Map<string, { body: string; gzip: Buffer; type: string }>()
  const js = await uiBundle()
  files.set('app.js', { body: js, gzip: gzipSync(js, { level: 9 }), type: JS })
  for (const [name, a] of Object.entries(ASSETS)) {
    const body = await readFile(fileURLToPath(a.url), 'utf8')
    files.set(name, { body, gzip: gzipSync(body, { level: 9 }), type: a.type })
  }
  const htmlGzip = gzipSync(html, { level: 9 })
  app.get('/', { schema: { summary: 'The web UI (HTML)', tags: ['ui'] } }, async (req, reply) => {
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').header('vary', 'accept-encoding')
    return acceptsGzip(req.headers['accept-encoding']) ? reply.header('content-encoding', 'gzip').send(htmlGzip) : reply.send(html)
  })
  app.get<{ Params: { file: string } }>(
    '/ui/:file',
    { schema: { summary: 'A file of the web UI (script, style sheet, chart library)', tags: ['ui'], hide: true } },
    async (req, reply) => {
      const f = files.get(req.params.file)
      if (!f) return reply.code(404).send({ error: { code: 'API_ERR_NOT_FOUND', message: `no UI file ${JSON.stringify(req.params.file)}` } })
      reply.type(f.type).header('cache-control', 'no-cache').header('vary', 'accept-encoding')
      return acceptsGzip(req.headers['accept-encoding']) ? reply.header('content-encoding', 'gzip').send(f.gzip) : reply.send(f.body)
    },
  )
}
