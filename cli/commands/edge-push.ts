import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { connectAsync } from 'mqtt'
import { parse } from 'yaml'
import { agentStateAddress } from '../../edge-agent/index.ts'
import type { AgentConfigState } from '../../edge-agent/central-config.ts'
import { buildTopic } from '../../core/topic.ts'
import { defaultClientId } from '../../core/mqtt.ts'
import type { ResolvedConfig } from '../config.ts'

/** `plantwatt edge push` options. */
export interface EdgePushOptions {
  devices?: string
  configVersion?: string
  reloadProfiles?: boolean
  username?: string
  waitS?: string
}

/**
 * The central side of central configuration (edge-agent/central-config.ts): reads a YAML file with
 * `devices:` (as edge.devices) and optionally `profiles:` (name → profile file, sent along as
 * documents), publishes it to the agent's command topic (the agent of `edge.agentId` and its first
 * device in the config file) as the broker's admin user, and waits for the agent's retained state
 * to say whether it applied it. Exit code 1 when refused or unanswered.
 */
export async function edgePush(cfg: ResolvedConfig, opts: EdgePushOptions): Promise<void> {
  const address = agentStateAddress(cfg.edge)
  if (!address) throw new Error('edge push: the config file needs edge.agentId and at least one device (they name the agent and its topic)')
  let body: Record<string, unknown>
  let expected: number | undefined
  if (opts.reloadProfiles) body = { type: 'reload-profiles' }
  else {
    if (!opts.devices || !opts.configVersion) throw new Error('edge push: --devices <file> and --config-version <n> are needed (or --reload-profiles)')
    expected = Number(opts.configVersion)
    if (!Number.isInteger(expected) || expected < 1) throw new Error(`edge push: --config-version must be a whole number ≥ 1, got ${opts.configVersion}`)
    const doc = (parse(readFileSync(opts.devices, 'utf8')) ?? {}) as { devices?: unknown; profiles?: Record<string, string> }
    const profiles = Object.fromEntries(
      Object.entries(doc.profiles ?? {}).map(([name, file]) => [name, parse(readFileSync(resolve(dirname(opts.devices as string), file), 'utf8'))]),
    )
    body = { type: 'config', version: expected, devices: doc.devices ?? [], ...(Object.keys(profiles).length > 0 ? { profiles } : {}) }
  }
  // As the broker's admin user: no other role may publish on a command topic (broker/acl.ts).
  const username = opts.username ?? cfg.mqtt.username
  const password = process.env.PLANTWATT_MQTT_PASSWORD ?? cfg.mqtt.password
  const client = await connectAsync(cfg.mqtt.url, {
    clientId: defaultClientId('edge-push'),
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    protocolVersion: 4,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  })
  try {
    const stateTopic = buildTopic(address, 'state')
    const answer = new Promise<AgentConfigState | undefined>((resolveAnswer) => {
      const timer = setTimeout(() => resolveAnswer(undefined), Number(opts.waitS ?? 15) * 1000)
      client.on('message', (topic, payload, packet) => {
        // The retained state delivered on subscribing is the answer to an earlier command: only a
        // state published after ours (retain flag 0 on a live subscription, MQTT 3.1.1 §3.3.1.3) counts.
        if (topic !== stateTopic || packet.retain) return
        const state = (JSON.parse(payload.toString('utf8')) as { config?: AgentConfigState }).config
        if (!state) return
        const done = expected === undefined ? true : state.version >= expected || state.rejected?.version === expected
        if (done) {
          clearTimeout(timer)
          resolveAnswer(state)
        }
      })
    })
    try {
      await client.subscribeAsync(stateTopic, { qos: 1 })
    } catch (cause) {
      throw new Error(
        `edge push: the broker refused to let ${username ?? 'an anonymous user'} read ${stateTopic} (${(cause as Error).message}): push as a user with the admin role`,
      )
    }
    await client.publishAsync(buildTopic(address, 'command'), JSON.stringify(body), { qos: 1 })
    const state = await answer
    if (!state) {
      process.stdout.write(
        `no answer from agent ${cfg.edge.agentId} within ${opts.waitS ?? 15} s (is it running and allowed to read ${buildTopic(address, 'command')}?)\n`,
      )
      process.exitCode = 1
    } else if (expected !== undefined && state.rejected?.version === expected) {
      process.stdout.write(
        `refused: ${state.rejected.code}; version ${state.version} stays in force\n${state.rejected.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}\n`,
      )
      process.exitCode = 1
    } else process.stdout.write(`agent ${cfg.edge.agentId}: version ${state.version} (${state.source}) in force\n`)
  } finally {
    await client.endAsync()
  }
}
