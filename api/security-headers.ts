import type { FastifyHelmetOptions } from '@fastify/helmet'

/**
 * The Content-Security-Policy of every answer (the web UI at `/`, the Swagger UI at /docs, the API).
 *
 * What the two pages need, checked in their sources and in Chromium (test/browser/csp.test.ts):
 * - scripts: only files from this origin (`/ui/app.js`, `/ui/uplot.js`, /docs/static/*.js); no inline
 *   script and no inline event handler, so `script-src 'self'` and `script-src-attr 'none'`;
 * - styles: files from this origin; the UI sizes its bars through the CSSOM, which CSP allows. Swagger
 *   UI inserts <style> elements, so /docs alone also gets 'unsafe-inline' for styles (DOCS_CSP; a
 *   style cannot run code);
 * - images: this origin and data: URIs (the UI's empty favicon `data:,`, Swagger UI's icons);
 * - fetch and EventSource: this origin only (`connect-src` falls back to `default-src 'self'`).
 *
 * No `upgrade-insecure-requests`: the API is often served over plain HTTP inside the plant, and that
 * directive would send the browser to https:// for the page's own scripts. Nor HSTS, for the same
 * reason: whoever terminates TLS in front of the API sets it, for the names it serves.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
} as const

/** The policy of /docs (Swagger UI): the same, with inline styles allowed. For swagger-ui's transformStaticCSP. */
export function docsCsp(header: string): string {
  return header.replace(/(^|;)style-src 'self'(;|$)/, "$1style-src 'self' 'unsafe-inline'$2")
}

/** @fastify/helmet settings: the policy above, no framing at all, no sniffing, no referrer. */
export const HELMET_OPTIONS: FastifyHelmetOptions = {
  global: true,
  contentSecurityPolicy: { useDefaults: false, directives: Object.fromEntries(Object.entries(CONTENT_SECURITY_POLICY).map(([k, v]) => [k, [...v]])) },
  frameguard: { action: 'deny' },
  noSniff: true,
  referrerPolicy: { policy: 'no-referrer' },
  strictTransportSecurity: false,
  // Same-origin isolation of the pages; the API itself is read by servers (Grafana) or same-origin pages.
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  crossOriginEmbedderPolicy: false,
}
