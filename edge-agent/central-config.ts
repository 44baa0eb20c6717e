import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Type from 'typebox'
import { Value } from 'typebox/value'
import { stringify } from 'yaml'
import { schemaProblems, validateConfig, type ConfigProblem } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import type { DriverFactory } from './drivers.ts'
import { checkEdgeDevices, type DeviceSetup } from './setup.ts'

/**
 * Central configuration of an edge agent over MQTT: the central side (an `admin` broker user —
 * no other role may publish there, broker/acl.ts) publishes a command on the agent's own topic
 * `pw/v1/{e}/{s}/{l}/{agentId}/command`; the agent validates it whole, applies it without a restart
 * (its pollers rebuilt, outbox, sequence numbers and broker connection kept) or keeps the config it
 * has, and says which in its retained agent state (`config`: the version in force, and the last
 * refused one with its problems). An applied config is kept in `<bufferDir>/<agentId>.central.json`
 * and wins over the file's devices at the next start.
 *
 * - `{ type: 'config', version, devices, profiles? }`: the device list (as in the config file's
 *   `edge.devices`) and optionally profile documents by name, which devices then name in `profile:`;
 *   `version` must be higher than the one in force (a replayed or reordered command is refused).
 * - `{ type: 'reload-profiles' }`: re-read every profile file and rebuild the devices — a device left
 *   out for a bad profile is retried once its profile file is fixed.
 */

/** Largest command accepted, bytes (device lists and profiles of a big gateway fit easily). */
export const MAX_COMMAND_BYTES = 4 * 1024 * 1024

const ProfileName = Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' })

export const ConfigCommandSchema = Type.Object(
  {
    type: Type.Literal('config'),
    version: Type.Integer({ minimum: 1, description: 'higher than the version in force' }),
    devices: Type.Array(Type.Unknown(), { description: 'the devices, as edge.devices in the config file' }),
    profiles: Type.Optional(Type.Record(ProfileName, Type.Unknown(), { description: 'profile documents by name; a device names one in profile:' })),
  },
  { additionalProperties: false },
)
export type ConfigCommand = Type.Static<typeof ConfigCommandSchema>

export const ReloadProfilesCommandSchema = Type.Object({ type: Type.Literal('reload-profiles') }, { additionalProperties: false })

/** What the agent's retained state says about its configuration. */
export interface AgentConfigState {
  /** 0: the config file's devices; ≥ 1: the central version in force. */
  version: number
  source: 'file' | 'central'
  appliedAt: number
  /** The last command refused (kept until a later one is applied). */
  rejected?: { version: number | null; at: number; code: string; problems: ConfigProblem[] }
}

/** A command checked and ready to apply: the agent's config with the new devices and their setups. */
export interface CandidateConfig {
  version: number
  config: EdgeConfig
  setups: DeviceSetup[]
  /** The command as received (what is persisted once applied). */
  command: ConfigCommand
}

/** Why a command was refused: a code and the problems, each with its path in the command. */
export class CommandRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly problems: ConfigProblem[],
    readonly version: number | null = null,
  ) {
    super(message)
  }
}

function parseCommand(payload: Buffer): unknown {
  if (payload.length > MAX_COMMAND_BYTES)
    throw new CommandRefused('EDGE_ERR_COMMAND_SIZE', `command of ${payload.length} bytes (at most ${MAX_COMMAND_BYTES})`, [])
  try {
    return JSON.parse(payload.toString('utf8'))
  } catch (cause) {
    throw new CommandRefused('EDGE_ERR_COMMAND_JSON', `command is not JSON: ${(cause as Error).message}`, [{ path: '/', message: 'not JSON' }])
  }
}

/** The command's kind, validated: a config command or a profile reload. Throws CommandRefused. */
export function readCommand(payload: Buffer): ConfigCommand | { type: 'reload-profiles' } {
  const raw = parseCommand(payload)
  const type = (raw as { type?: unknown } | null)?.type
  if (type === 'reload-profiles') {
    const problems = schemaProblems(ReloadProfilesCommandSchema, raw)
    if (problems.length > 0) throw new CommandRefused('EDGE_ERR_COMMAND', 'bad reload-profiles command', problems)
    return { type: 'reload-profiles' }
  }
  const problems = schemaProblems(ConfigCommandSchema, raw)
  if (problems.length > 0) {
    const version = (raw as { version?: unknown }).version
    throw new CommandRefused(
      'EDGE_ERR_COMMAND',
      `bad command: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
      problems,
      Number.isInteger(version) ? (version as number) : null,
    )
  }
  return Value.Clone(raw) as ConfigCommand
}

/** Where a command's profile documents are written: `<bufferDir>/central-profiles/v<version>/`. */
function profileFolder(dir: string, version: number): string {
  return join(dir, 'central-profiles', `v${version}`)
}

/**
 * Removes the profile folders of every version but `keep` (the one in force): a refused command's
 * documents, and those of versions an applied one replaced. Best effort: a folder that cannot be
 * removed is left (it is never read again).
 */
export function pruneProfileFolders(dir: string, keep: number | undefined): void {
  let names: string[]
  try {
    names = readdirSync(join(dir, 'central-profiles'))
  } catch {
    return
  }
  for (const name of names) if (name !== `v${keep}`) rmSync(join(dir, 'central-profiles', name), { recursive: true, force: true })
}

/** Writes the command's profiles under `<bufferDir>/central-profiles/v<version>/` and points the devices at them. */
function withProfileFiles(command: ConfigCommand, dir: string): unknown[] {
  const names = Object.keys(command.profiles ?? {})
  if (names.length === 0) return command.devices
  const folder = profileFolder(dir, command.version)
  mkdirSync(folder, { recursive: true })
  for (const name of names) writeFileSync(join(folder, `${name}.yaml`), stringify(command.profiles?.[name]))
  return command.devices.map((d) => {
    const profile = (d as { profile?: unknown } | null)?.profile
    return typeof profile === 'string' && names.includes(profile) ? { ...(d as object), profile: join(folder, `${profile}.yaml`) } : d
  })
}

/** Closes the drivers of setups that will not be used. */
export async function closeSetups(setups: readonly DeviceSetup[]): Promise<void> {
  await Promise.all(setups.map((s) => s.driver?.close().catch(() => undefined)))
}

/**
 * Checks a config command against the agent's config: the version, the schema of every device, the
 * cross-device rules and every device's profile — all problems at once. A device whose profile does
 * not load refuses the whole command (a central push is all or nothing; the file config keeps such a
 * device out instead). Throws CommandRefused; nothing is applied or kept.
 */
export async function checkCommand(
  command: ConfigCommand,
  base: EdgeConfig,
  current: number,
  registry?: Readonly<Record<string, DriverFactory>>,
): Promise<CandidateConfig> {
  if (command.version <= current) {
    throw new CommandRefused(
      'EDGE_ERR_COMMAND_STALE',
      `version ${command.version} is not newer than the version in force (${current})`,
      [{ path: '/version', message: `must be > ${current}` }],
      command.version,
    )
  }
  const devices = withProfileFiles(command, base.bufferDir)
  // A refused command leaves nothing behind: the profile documents it brought are removed.
  const refuse = (err: CommandRefused): never => {
    rmSync(profileFolder(base.bufferDir, command.version), { recursive: true, force: true })
    throw err
  }
  let config: EdgeConfig
  try {
    config = validateConfig(EdgeConfigSchema, { ...base, devices }, `edge command v${command.version}`) as EdgeConfig
  } catch (err) {
    if (!isPlantWattError(err)) throw err
    const problems = ((err.details ?? []) as ConfigProblem[]).filter((p) => p.path.startsWith('/devices'))
    return refuse(new CommandRefused('EDGE_ERR_COMMAND_CONFIG', err.message, problems, command.version))
  }
  const { setups, problems } = checkEdgeDevices(config, registry)
  const profileProblems: ConfigProblem[] = setups.flatMap((s, i) =>
    s.profileError ? [{ path: `/devices/${i}/profile`, message: `${s.profileError.code}: ${s.profileError.message}` }] : [],
  )
  if (problems.length > 0 || profileProblems.length > 0) {
    await closeSetups(setups)
    const all = [...problems, ...profileProblems]
    return refuse(new CommandRefused('EDGE_ERR_COMMAND_CONFIG', `edge command v${command.version}: ${all.length} problem(s)`, all, command.version))
  }
  return { version: command.version, config, setups, command }
}

/** Where an agent keeps its applied central config. */
export function centralConfigFile(config: Pick<EdgeConfig, 'bufferDir' | 'agentId'>): string {
  return join(config.bufferDir, `${config.agentId}.central.json`)
}

/** Keeps an applied command (written whole, then renamed: a crash leaves the old one). */
export function saveCentralConfig(config: Pick<EdgeConfig, 'bufferDir' | 'agentId'>, command: ConfigCommand): void {
  const file = centralConfigFile(config)
  mkdirSync(config.bufferDir, { recursive: true })
  writeFileSync(`${file}.tmp`, JSON.stringify(command))
  renameSync(`${file}.tmp`, file)
}

/** Forgets the kept central config (the file's devices apply at the next start). */
export function removeCentralConfig(config: Pick<EdgeConfig, 'bufferDir' | 'agentId'>): void {
  rmSync(centralConfigFile(config), { force: true })
}

/** The applied command kept from an earlier run, if any (an unreadable file is ignored: the file config applies). */
export function loadCentralConfig(config: Pick<EdgeConfig, 'bufferDir' | 'agentId'>): ConfigCommand | undefined {
  try {
    const cmd = readCommand(readFileSync(centralConfigFile(config)))
    return cmd.type === 'config' ? cmd : undefined
  } catch {
    return undefined
  }
}
