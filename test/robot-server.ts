import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AlertNotification } from '../alerts/events.ts'

/**
 * A local HTTP server on port 0 playing a robot (WeCom, DingTalk, Feishu): records each request
 * (method, URL, content type, parsed JSON body) and lets `answer` reply (undefined: never answer).
 * Shared by the notification tests.
 */

export interface Received {
  method: string
  url: string
  contentType: string
  body: unknown
}

export interface RobotServer {
  url: string
  received: Received[]
  close(): Promise<void>
}

export async function robotServer(answer: (r: Received, res: ServerResponse) => void): Promise<RobotServer> {
  const received: Received[] = []
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: String(req.headers['content-type']),
        body: text ? JSON.parse(text) : null,
      }
      received.push(r)
      answer(r, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Answers a robot's "ok". */
export const robotOk = (_r: Received, res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ errcode: 0, errmsg: 'ok' }))
}

/** 2026-01-15 10:00:00 in Shanghai. */
export const T0 = Date.UTC(2026, 0, 15, 2, 0)

/** An alert notification of acme/wuhan/l1/main (the one test/alerts-notify.test.ts uses). */
export const note = (over: Partial<AlertNotification> = {}): AlertNotification => ({
  type: 'alert',
  event: 'opened',
  ts: T0,
  alertId: 'mkfo0g00-1x2y3z',
  state: 'firing',
  enterprise: 'acme',
  site: 'wuhan',
  line: 'l1',
  device: 'main',
  deviceName: '总表 Incomer',
  rule: 'power-high',
  ruleKind: 'threshold',
  severity: 'critical',
  quantity: 'active_power_kw',
  value: 150,
  threshold: 100,
  expectedLow: null,
  expectedHigh: 100,
  openedAt: T0,
  user: '',
  comment: '',
  text: { zh: '[告警] 总表 Incomer (l1)：active_power_kw = 150，超过上限 100', en: '[alert] 总表 Incomer (l1): active_power_kw = 150, above the limit 100' },
  ...over,
})
