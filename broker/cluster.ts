import aedesPersistenceRedis from 'aedes-persistence-redis'
import MQEmitterRedis from 'mqemitter-redis'
import { PlantWattError } from '../core/errors.ts'
import type { BrokerConfig } from './config.ts'

/** What Aedes needs to share routing and sessions with the other nodes through one Redis. */
export interface ClusterParts {
  id: string | undefined
  mq: ReturnType<typeof MQEmitterRedis>
  persistence: unknown
}

/** ioredis options from `redis://[:password@]host:port[/db]`. */
export function redisOptions(url: string): { host: string; port: number; password?: string; username?: string; db?: number } {
  let u: URL
  try {
    u = new URL(url)
  } catch (cause) {
    throw new PlantWattError('BROKER_ERR_CONFIG', `broker.cluster.redisUrl is not a URL`, { cause })
  }
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined
  if (db !== undefined && !Number.isInteger(db))
    throw new PlantWattError('BROKER_ERR_CONFIG', `broker.cluster.redisUrl: database ${u.pathname.slice(1)} is not a number`)
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(db !== undefined ? { db } : {}),
  }
}

/**
 * Routing through Redis pub/sub (mqemitter-redis) and sessions, retained messages, subscriptions
 * and wills in Redis (aedes-persistence-redis): a client on any node receives what a client on any
 * other published, and a persistent session outlives the node it was made on.
 */
export function clusterParts(cluster: NonNullable<BrokerConfig['cluster']>): ClusterParts {
  const opts = redisOptions(cluster.redisUrl)
  return {
    id: cluster.brokerId,
    mq: MQEmitterRedis({ ...opts, maxRetriesPerRequest: null }),
    persistence: aedesPersistenceRedis(opts),
  }
}
