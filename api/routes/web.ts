import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from '../context.ts'

const PAGE = new URL('../web/index.html', import.meta.url)

/** The built-in live page: one static file, read once, no build step. */
export const webRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app) => {
  const html = await readFile(PAGE, 'utf8')
  app.get('/', { schema: { summary: 'Live values page (HTML)', tags: ['ui'] } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html),
  )
}
