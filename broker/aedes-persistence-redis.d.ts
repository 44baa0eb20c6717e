// aedes-persistence-redis 11 ships no types; only the factory is used (broker/cluster.ts).
declare module 'aedes-persistence-redis' {
  interface RedisPersistenceOptions {
    host?: string
    port?: number
    password?: string
    username?: string
    db?: number
    /** Offline messages delivered per CONNECT (default 1000). */
    maxSessionDelivery?: number
  }
  function aedesPersistenceRedis(opts?: RedisPersistenceOptions): unknown
  export default aedesPersistenceRedis
}
