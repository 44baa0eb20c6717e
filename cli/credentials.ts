import { readFileSync } from 'node:fs'
import { PlantWattError } from '../core/errors.ts'
import type { MqttClientConfig, MqttCredential, MqttGatewayCredential, MqttSection } from '../core/mqtt.ts'
import type { BrokerConfig } from '../broker/config.ts'

/** The MQTT clients of this installation: each with its own user when `mqtt.credentials` names one. */
export interface ComponentClients {
  ingest: MqttClientConfig
  alerts: MqttClientConfig
  /** One broker connection per gateway credential (one without credentials: the shared `mqtt` user). */
  edge: EdgeGateway[]
}

/** One edge-agent connection and the devices its user may publish for. */
export interface EdgeGateway {
  mqtt: MqttClientConfig
  /** Absent: every device no scoped gateway takes. */
  enterprise?: string
  site?: string
  /** Where it is configured, for messages: `mqtt.credentials.edge[1] (user gw-edong)`. */
  label: string
}

interface Problem {
  path: string
  message: string
}

function configError(code: string, what: string, problems: readonly Problem[]): PlantWattError {
  return new PlantWattError(code, `${what}: ${problems.length} problem(s)\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, {
    details: problems,
  })
}

function scopeOf(c: { enterprise?: string | undefined; site?: string | undefined }): string {
  return c.enterprise === undefined ? 'every enterprise' : `${c.enterprise}/${c.site ?? '*'}`
}

/**
 * Checks of `mqtt.credentials` the schema cannot express, all reported at once (CORE_ERR_CONFIG):
 * one password source per user, a site only with its enterprise, no scope given twice.
 */
export function checkMqttCredentials(section: MqttSection, source: string): void {
  const c = section.credentials
  if (!c) return
  const problems: Problem[] = []
  const oneSource = (cred: MqttCredential, path: string): void => {
    const n = (cred.passwordEnv === undefined ? 0 : 1) + (cred.passwordFile === undefined ? 0 : 1)
    if (n !== 1)
      problems.push({
        path,
        message: `give the password of ${JSON.stringify(cred.username)} as exactly one of passwordEnv, passwordFile${n === 0 ? '' : ' (both are set)'}`,
      })
  }
  if (c.ingest) oneSource(c.ingest, '/mqtt/credentials/ingest')
  if (c.alerts) oneSource(c.alerts, '/mqtt/credentials/alerts')
  const scopes = new Map<string, number>()
  c.edge?.forEach((g, i) => {
    const path = `/mqtt/credentials/edge/${i}`
    oneSource(g, path)
    if (g.site !== undefined && g.enterprise === undefined) problems.push({ path: `${path}/site`, message: 'a site needs its enterprise' })
    const scope = scopeOf(g)
    const first = scopes.get(scope)
    if (first !== undefined)
      problems.push({ path, message: `scope ${scope} is already carried by /mqtt/credentials/edge/${first}: one gateway user per enterprise or site` })
    else scopes.set(scope, i)
  })
  if (problems.length > 0) throw configError('CORE_ERR_CONFIG', `${source}: mqtt.credentials`, problems)
}

/** Reads a password from its environment variable or file; only names, never values, in errors. */
function readSecret(cred: MqttCredential, path: string, env: NodeJS.ProcessEnv, problems: Problem[]): string | undefined {
  if (cred.passwordEnv !== undefined) {
    const value = env[cred.passwordEnv]
    if (value === undefined || value === '')
      problems.push({
        path: `${path}/passwordEnv`,
        message: `environment variable ${cred.passwordEnv} (password of ${JSON.stringify(cred.username)}) is not set`,
      })
    return value || undefined
  }
  if (cred.passwordFile !== undefined) {
    try {
      const first = readFileSync(cred.passwordFile, 'utf8').split(/\r?\n/)[0] ?? ''
      if (first === '') problems.push({ path: `${path}/passwordFile`, message: `${cred.passwordFile} (password of ${JSON.stringify(cred.username)}) is empty` })
      return first || undefined
    } catch (err) {
      problems.push({
        path: `${path}/passwordFile`,
        message: `cannot read ${cred.passwordFile} (password of ${JSON.stringify(cred.username)}): ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      })
    }
  }
  return undefined
}

/**
 * Each component's connection: the shared `mqtt` settings with the component's own user and
 * password when `mqtt.credentials` has one, else the shared `mqtt.username`/`password`. Every
 * missing or unreadable password is reported at once (CLI_ERR_MQTT_CREDENTIALS).
 */
export function resolveComponentClients(section: MqttSection, env: NodeJS.ProcessEnv = process.env): ComponentClients {
  const { credentials, ...shared } = section
  const problems: Problem[] = []
  const withUser = (cred: MqttCredential | undefined, path: string): MqttClientConfig => {
    if (!cred) return { ...shared }
    const password = readSecret(cred, path, env, problems)
    const { password: _shared, ...rest } = shared
    return { ...rest, username: cred.username, ...(password === undefined ? {} : { password }) }
  }
  const ingest = withUser(credentials?.ingest, '/mqtt/credentials/ingest')
  const alerts = withUser(credentials?.alerts, '/mqtt/credentials/alerts')
  const edge: EdgeGateway[] = credentials?.edge
    ? credentials.edge.map((g: MqttGatewayCredential, i) => ({
        mqtt: withUser(g, `/mqtt/credentials/edge/${i}`),
        ...(g.enterprise === undefined ? {} : { enterprise: g.enterprise }),
        ...(g.site === undefined ? {} : { site: g.site }),
        label: `mqtt.credentials.edge[${i}] (user ${g.username})`,
      }))
    : [{ mqtt: { ...shared }, label: 'mqtt' }]
  if (problems.length > 0) throw configError('CLI_ERR_MQTT_CREDENTIALS', 'mqtt.credentials', problems)
  return { ingest, alerts, edge }
}

/** The broker role each component's user needs (broker/acl.ts); admin may do all. */
const NEEDED_ROLE = { ingest: 'ingest', alerts: 'service', edge: 'gateway' } as const

/**
 * `plantwatt up` runs the broker too, so it can tell before starting what the broker would refuse
 * for certain: a component without a user while anonymous clients are refused, a user the broker
 * does not have, a role that does not fit the component, a gateway scope other than the user's.
 * Passwords are not checked here: a wrong one shows as the component being refused (GET /health).
 * A gateway credential without a scope takes its user's. Returns the gateways with their scopes.
 */
export function checkClientsAgainstBroker(clients: ComponentClients, broker: Pick<BrokerConfig, 'users' | 'anonymous'>): ComponentClients {
  if (broker.users.length === 0) return clients
  const users = new Map(broker.users.map((u) => [u.username, u]))
  const anonymousRefused = broker.anonymous === 'auto' || broker.anonymous === 'never'
  const problems: Problem[] = []
  const check = (component: keyof typeof NEEDED_ROLE, username: string | undefined, where: string): (typeof broker.users)[number] | undefined => {
    if (username === undefined || username === '') {
      if (anonymousRefused)
        problems.push({
          path: where,
          message: `${component} has no broker user and broker.users makes the broker refuse anonymous clients: add mqtt.credentials.${component}`,
        })
      return undefined
    }
    const user = users.get(username)
    if (!user) {
      problems.push({ path: where, message: `${component} connects as ${JSON.stringify(username)}, which is not in broker.users` })
      return undefined
    }
    if (user.role !== NEEDED_ROLE[component] && user.role !== 'admin') {
      problems.push({
        path: where,
        message: `${component} connects as ${JSON.stringify(username)}, a broker user of role ${user.role}: it needs role ${NEEDED_ROLE[component]}`,
      })
    }
    return user
  }
  check('ingest', clients.ingest.username, 'mqtt.credentials.ingest')
  check('alerts', clients.alerts.username, 'mqtt.credentials.alerts')
  const edge = clients.edge.map((g) => {
    const user = check('edge', g.mqtt.username, g.label)
    if (!user || user.role !== 'gateway') return g
    if (g.enterprise === undefined) {
      return { ...g, ...(user.enterprise === undefined ? {} : { enterprise: user.enterprise }), ...(user.site === undefined ? {} : { site: user.site }) }
    }
    if (g.enterprise !== user.enterprise || (user.site !== undefined && g.site !== user.site)) {
      problems.push({
        path: g.label,
        message: `scope ${scopeOf(g)} is not the broker user's: ${JSON.stringify(user.username)} may publish for ${scopeOf(user)} only`,
      })
    }
    return g
  })
  if (problems.length > 0) throw configError('CLI_ERR_MQTT_CREDENTIALS', 'mqtt.credentials against broker.users', problems)
  return { ...clients, edge }
}
