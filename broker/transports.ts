import net from 'node:net'
import http from 'node:http'
import tls from 'node:tls'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type { Duplex } from 'node:stream'
import type { Aedes } from 'aedes'
import { createWebSocketStream, WebSocketServer } from 'ws'
import { describeError, PlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { BrokerConfig } from './config.ts'
import type { Connections } from './connections.ts'
import { PacketLimitedConnection } from './packet-limit.ts'
import type { BrokerCounters } from './stats.ts'

/** Sockets that have not sent CONNECT yet may exceed maxConnections by this much (Aedes cuts them after its connectTimeout). */
const HANDSHAKE_SLACK = 100
/** [MQTT-2.2.1] control packet type 3: PUBLISH */
const PUBLISH_PACKET = 3
/** Packets may be this many times maxPayloadBytes before the connection is cut unread. */
const PACKET_LIMIT_FACTOR = 4

export interface Transports {
  host: string
  port: number
  url: string
  tlsUrl: string | undefined
  wsUrl: string | undefined
  /** Stops listening; resolves when the servers have closed (after destroy(), or as clients leave). */
  stopListening(): Promise<void>
  /** Destroys every socket still open. */
  destroy(): void
}

function formatUrl(scheme: string, host: string, port: number, path = ''): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`
}

/** The TLS files, read at start (a coded error naming the cause when they cannot be). */
export function readTlsFiles(t: NonNullable<BrokerConfig['tls']>): { cert: Buffer; key: Buffer; ca: Buffer | undefined } {
  try {
    return { cert: readFileSync(t.certFile), key: readFileSync(t.keyFile), ca: t.caFile ? readFileSync(t.caFile) : undefined }
  } catch (cause) {
    throw new PlantWattError('BROKER_ERR_TLS', `cannot read the broker's TLS files: ${describeError(cause)}`, { cause })
  }
}

/**
 * MQTT over TCP, and over TLS and WebSocket when configured. Every transport ends in one place: the
 * connection cap, the packet-size guard, the remote address noted, then Aedes.
 */
export async function openTransports(
  aedes: Aedes,
  config: BrokerConfig,
  deps: { connections: Connections; counters: BrokerCounters; logger: Logger },
): Promise<Transports> {
  const { connections, counters, logger } = deps
  const tlsFiles = config.tls ? readTlsFiles(config.tls) : undefined
  const maxPacketBytes = config.maxPayloadBytes * PACKET_LIMIT_FACTOR + 65_540
  const sockets = new Set<Duplex>()
  const accept = (stream: Duplex, remote: string | undefined): void => {
    if (sockets.size >= config.maxConnections + HANDSHAKE_SLACK) {
      counters.refusedConnections++
      stream.destroy()
      return
    }
    sockets.add(stream)
    stream.on('close', () => sockets.delete(stream))
    const conn = new PacketLimitedConnection(
      stream,
      maxPacketBytes,
      (err) => {
        counters.oversizePackets++
        logger.warn({ remote, code: err.code }, err.message)
      },
      (type) => {
        if (type === PUBLISH_PACKET) counters.messagesOut++
      },
    )
    if (remote !== undefined) connections.arrived(conn, remote)
    aedes.handle(conn)
  }
  const servers: (net.Server | http.Server)[] = []
  let wss: WebSocketServer | undefined
  const stopListening = async (): Promise<void> => {
    const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))
    wss?.close()
    await Promise.all(closed)
  }
  const destroy = (): void => {
    for (const socket of sockets) socket.destroy()
  }
  const listen = async (server: net.Server | http.Server, port: number, name: string): Promise<number> => {
    server.listen(port, config.host)
    try {
      await once(server, 'listening')
    } catch (cause) {
      const stopped = stopListening()
      destroy()
      await stopped
      throw new PlantWattError('BROKER_ERR_LISTEN', `cannot listen (${name}) on ${config.host}:${port}: ${describeError(cause)}`, { cause })
    }
    servers.push(server)
    return (server.address() as net.AddressInfo).port
  }

  const host = config.host
  const port = await listen(
    net.createServer((socket) => accept(socket, socket.remoteAddress)),
    config.port,
    'mqtt',
  )
  let tlsUrl: string | undefined
  if (config.tls && tlsFiles) {
    const requireCert = config.tls.clientCertificates === 'require'
    const server = tls.createServer(
      {
        cert: tlsFiles.cert,
        key: tlsFiles.key,
        ...(tlsFiles.ca ? { ca: tlsFiles.ca } : {}),
        requestCert: requireCert,
        rejectUnauthorized: requireCert,
        minVersion: 'TLSv1.2',
      },
      (socket) => accept(socket, socket.remoteAddress),
    )
    server.on('tlsClientError', (err) => logger.warn({ err: err.message }, 'TLS handshake failed'))
    tlsUrl = formatUrl('mqtts', host, await listen(server, config.tls.port, 'tls'))
  }
  let wsUrl: string | undefined
  if (config.websocket) {
    const server = http.createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n')
    })
    wss = new WebSocketServer({ server, path: config.websocket.path, maxPayload: maxPacketBytes })
    wss.on('connection', (ws, req) => accept(createWebSocketStream(ws), req.socket.remoteAddress))
    wsUrl = formatUrl('ws', host, await listen(server, config.websocket.port, 'websocket'), config.websocket.path)
  }
  return { host, port, url: formatUrl('mqtt', host, port), tlsUrl, wsUrl, stopListening, destroy }
}
