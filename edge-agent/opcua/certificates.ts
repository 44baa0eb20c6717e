import { hostname } from 'node:os'
import { join } from 'node:path'
import { OPCUACertificateManager, OPCUAClient } from 'node-opcua'
import type { OpcuaConnection } from '../config.ts'
import { routeOpcuaLibraryLog } from './library-log.ts'

// node-opcua's console output goes to a device's logger (or nowhere) from the first use of its PKI on.
routeOpcuaLibraryLog()

/**
 * A certificate store that outlives the clients using it. node-opcua's `client.disconnect()`
 * disposes the client's certificate manager; a driver that made a new manager per connect attempt
 * leaked one (5 folder watchers, its key, its index) per attempt while a server was unreachable
 * (~5 MB a minute at one attempt per second). Here `dispose()` is a no-op; `release()` disposes.
 */
class SharedCertificateManager extends OPCUACertificateManager {
  override async dispose(): Promise<void> {
    // owned by this module: released by disposeOpcuaCertificateManagers()
  }

  release(): Promise<void> {
    return super.dispose()
  }
}

const shared = new Map<string, Promise<SharedCertificateManager>>()
/** PKI folders whose store refused a certificate since it last re-read its folders, with when it last did. */
const stale = new Map<string, number>()
const lastReload = new Map<string, number>()
/** At most one re-read of a folder per this many ms while its certificates are refused. */
const RELOAD_EVERY_MS = 2000

/**
 * A certificate was refused with `conn.pkiDir`: the next connect re-reads the folders first (at
 * most every 2 s), so a certificate an administrator just trusted counts without waiting for the
 * folder watchers.
 */
export function opcuaTrustMayHaveChanged(conn: Pick<OpcuaConnection, 'pkiDir'>): void {
  stale.set(conn.pkiDir, Date.now())
}

/**
 * The agent's certificate store for `conn.pkiDir`, one per folder for the whole process (every
 * device of an agent shares it; its folder watchers see certificates an administrator trusts).
 * `forConnect`: about to connect, so re-read the folders if a certificate was refused since.
 */
export async function sharedOpcuaCertificateManager(conn: Pick<OpcuaConnection, 'pkiDir'>, forConnect = false): Promise<OPCUACertificateManager> {
  let cm = shared.get(conn.pkiDir)
  if (!cm) {
    const made = new SharedCertificateManager({ rootFolder: conn.pkiDir, automaticallyAcceptUnknownCertificate: false })
    cm = made.initialize().then(() => made)
    shared.set(conn.pkiDir, cm)
    cm.catch(() => shared.delete(conn.pkiDir))
  }
  const manager = await cm
  const now = Date.now()
  if (forConnect && stale.has(conn.pkiDir) && now - (lastReload.get(conn.pkiDir) ?? 0) >= RELOAD_EVERY_MS) {
    stale.delete(conn.pkiDir)
    lastReload.set(conn.pkiDir, now)
    await manager.reloadCertificates()
  }
  return manager
}

/** Disposes every shared certificate store (their folder watchers); the next connect makes new ones. */
export async function disposeOpcuaCertificateManagers(): Promise<void> {
  const all = [...shared.values()]
  shared.clear()
  await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.release()))
}

/** A certificate store for one-off use (the caller disposes it). */
export async function opcuaCertificateManager(conn: Pick<OpcuaConnection, 'pkiDir'>): Promise<OPCUACertificateManager> {
  const cm = new OPCUACertificateManager({ rootFolder: conn.pkiDir, automaticallyAcceptUnknownCertificate: false })
  await cm.initialize()
  return cm
}

/** OPC UA Part 4 CreateSession: the client's applicationUri must match the URI in its certificate. */
export const opcuaApplicationUri = (conn: Pick<OpcuaConnection, 'applicationName'>): string => `urn:${hostname()}:${conn.applicationName}`

/**
 * Makes sure the agent's own certificate exists in `pkiDir/own` (RSA 2048, URI
 * urn:<host>:<applicationName>) and returns its file, so it can be handed to the server's administrator.
 */
export async function ensureOpcuaCertificate(conn: OpcuaConnection): Promise<string> {
  const cm = await sharedOpcuaCertificateManager(conn)
  const client = OPCUAClient.create({ applicationName: conn.applicationName, applicationUri: opcuaApplicationUri(conn), clientCertificateManager: cm })
  await client.createDefaultCertificate()
  return join(conn.pkiDir, 'own', 'certs', 'client_certificate.pem')
}
