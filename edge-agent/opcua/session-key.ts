import { createHmac, randomBytes } from 'node:crypto'
import type { OpcuaConnection } from '../config.ts'

/**
 * Which devices may share one OPC UA session (and client, secure channel): the same endpoint,
 * security, certificate store and application name, the same user with the same password, and the
 * same timeouts. Devices with `session: own` get a key of their own. No node-opcua: `edge plan` uses it.
 * The password enters as an HMAC under a key made for this process: equal passwords give equal keys
 * here, and a key that is logged or shown cannot be tried against a dictionary elsewhere.
 */
export function opcuaSessionKey(conn: OpcuaConnection, device: string): string {
  if (conn.session === 'own') return `own:${device}`
  const secret = conn.username === undefined ? '' : createHmac('sha256', PROCESS_KEY).update(opcuaPassword(conn)).digest('hex').slice(0, 12)
  return JSON.stringify([
    conn.endpointUrl,
    conn.securityMode,
    conn.securityPolicy,
    conn.pkiDir,
    conn.applicationName,
    conn.username ?? null,
    secret,
    conn.timeoutMs,
  ])
}

const PROCESS_KEY = randomBytes(32)

/** The user token's password: the connection's, else env PLANTWATT_OPCUA_PASSWORD, else empty. */
export function opcuaPassword(conn: Pick<OpcuaConnection, 'password'>): string {
  return conn.password ?? process.env.PLANTWATT_OPCUA_PASSWORD ?? ''
}

/** The session as a person reads it: `opc.tcp://h:4840 SignAndEncrypt/Basic256Sha256 user plantwatt`. */
export function opcuaSessionLabel(conn: OpcuaConnection): string {
  const security = `${conn.securityMode}${conn.securityMode === 'None' ? '' : `/${conn.securityPolicy}`}`
  return `${conn.endpointUrl} ${security}${conn.username === undefined ? '' : ` user ${conn.username}`}`
}
