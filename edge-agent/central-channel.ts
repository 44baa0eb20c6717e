import { resolve } from 'node:path'
import type { MqttClient } from 'mqtt'
import type { Logger } from '../core/logger.ts'
import { buildTopic, type DeviceAddress } from '../core/topic.ts'
import type { EdgeConfig } from './config.ts'
import type { DriverFactory } from './drivers.ts'
import { checkEdgeDevices, type DeviceSetup } from './setup.ts'
import {
  type AgentConfigState,
  type CandidateConfig,
  checkCommand,
  closeSetups,
  CommandRefused,
  type ConfigCommand,
  loadCentralConfig,
  pruneProfileFolders,
  readCommand,
  removeCentralConfig,
  saveCentralConfig,
} from './central-config.ts'
import { ProfileWatcher, watchableProfile } from './profile-watch.ts'

export interface CentralChannelOptions {
  client: MqttClient
  /** The agent's own address: commands arrive on its `command` topic. */
  agentAddress: DeviceAddress
  /** The file's config: what every command's devices are merged into. */
  base: EdgeConfig
  /** The state at start (file config, or a central one kept from an earlier run). */
  current: AgentConfigState
  currentConfig: EdgeConfig
  registry?: Readonly<Record<string, DriverFactory>>
  logger: Logger
  /** Replaces the pollers with the new config's (closing the old ones first). */
  apply(config: EdgeConfig, setups: DeviceSetup[]): Promise<void>
  /** Republishes the states (the agent's carries the configuration). */
  announce(): void
  /** Profile files are watched and a change reloads the devices (as `reload-profiles`); default true. */
  watchProfiles?: boolean
  /** Quiet time after a profile file changes before the reload, ms (default 300). */
  watchDelayMs?: number
}

/**
 * The agent's end of central configuration (central-config.ts): subscribes to its command topic,
 * handles one command at a time in arrival order, applies a valid one, refuses anything else, and
 * keeps the state its retained agent state reports.
 */
export class CentralConfigChannel {
  private readonly topic: string
  private state_: AgentConfigState
  private config: EdgeConfig
  private queue: Promise<void> = Promise.resolve()
  private closed = false
  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (topic !== this.topic || this.closed) return
    this.queue = this.queue.then(() => this.handle(payload)).catch((err: unknown) => this.o.logger.error({ err }, 'central config command failed'))
  }

  private watcher: ProfileWatcher | undefined

  constructor(private readonly o: CentralChannelOptions) {
    this.topic = buildTopic(o.agentAddress, 'command')
    this.state_ = o.current
    this.config = o.currentConfig
    o.client.on('message', this.onMessage)
    this.watch()
  }

  /**
   * Watches the profile files the devices in force name (not shipped names, not the documents a
   * central command brought: only the agent writes those). A change is handled like a
   * `reload-profiles` command, queued with the commands: a device left out for a bad profile is
   * retried, a changed profile is read again — without a restart.
   */
  private watch(): void {
    this.watcher?.close()
    this.watcher = undefined
    if (this.o.watchProfiles === false || this.closed) return
    const own = resolve(this.o.base.bufferDir, 'central-profiles')
    const files = this.config.devices.flatMap((d) => {
      const f = watchableProfile((d as { profile?: unknown }).profile)
      return f && !resolve(f).startsWith(own) ? [f] : []
    })
    if (files.length === 0) return
    this.watcher = new ProfileWatcher(
      files,
      (changed) => {
        if (this.closed) return
        this.o.logger.info({ files: changed }, 'profile file changed: reloading the devices')
        this.queue = this.queue
          .then(() => this.reloadProfiles().catch((err: unknown) => this.refused(err)))
          .catch((err: unknown) => this.o.logger.error({ err }, 'profile reload failed'))
      },
      this.o.watchDelayMs,
    )
  }

  /** (Re)subscribes; called on every connect (a clean session forgets subscriptions). */
  subscribe(): void {
    this.o.client.subscribe(this.topic, { qos: 1 }, (err) => {
      if (err && !this.closed)
        this.o.logger.warn({ topic: this.topic, err: err.message }, 'cannot subscribe to the command topic: central configuration unavailable')
    })
  }

  state(): AgentConfigState {
    return this.state_
  }

  private async handle(payload: Buffer): Promise<void> {
    try {
      const command = readCommand(payload)
      if (command.type === 'reload-profiles') {
        await this.reloadProfiles()
        return
      }
      const candidate = await checkCommand(command, this.o.base, this.state_.version, this.o.registry)
      if (this.closed) {
        await closeSetups(candidate.setups)
        return
      }
      await this.applyCandidate(candidate)
    } catch (err) {
      this.refused(err)
    }
  }

  /** A refused command (or reload) becomes the state's `rejected`; anything else is rethrown. */
  private refused(err: unknown): void {
    if (!(err instanceof CommandRefused)) throw err
    this.state_ = { ...this.state_, rejected: { version: err.version, at: Date.now(), code: err.code, problems: err.problems } }
    this.o.logger.warn(
      { code: err.code, version: err.version, problems: err.problems },
      `central config refused, keeping version ${this.state_.version}: ${err.message}`,
    )
    this.o.announce()
  }

  /**
   * Kept on disk first (a command that cannot be kept is refused, nothing applied), then applied; if
   * applying fails, the config in force before is applied again and kept again, and the command is
   * refused with EDGE_ERR_COMMAND_APPLY — the agent never stays without devices or with a kept
   * config that differs from the one it runs.
   */
  private async applyCandidate(c: CandidateConfig): Promise<void> {
    const kept = loadCentralConfig(this.o.base)
    try {
      saveCentralConfig(this.o.base, c.command)
    } catch (err) {
      await closeSetups(c.setups)
      throw new CommandRefused('EDGE_ERR_COMMAND_SAVE', `v${c.version} cannot be kept on disk, not applied: ${(err as Error).message}`, [], c.version)
    }
    try {
      await this.o.apply(c.config, c.setups)
    } catch (err) {
      await this.rollback(kept)
      throw new CommandRefused(
        'EDGE_ERR_COMMAND_APPLY',
        `v${c.version} could not be applied (${(err as Error).message}): back to the config in force`,
        [],
        c.version,
      )
    }
    this.config = c.config
    this.state_ = { version: c.version, source: 'central', appliedAt: Date.now() }
    pruneProfileFolders(this.o.base.bufferDir, c.version)
    this.watch()
    this.o.logger.info({ version: c.version, devices: c.config.devices.length }, 'central config applied')
    this.o.announce()
  }

  /** Applies the config in force again after a failed apply, and keeps on disk what was kept before. */
  private async rollback(kept: ConfigCommand | undefined): Promise<void> {
    if (kept) saveCentralConfig(this.o.base, kept)
    else removeCentralConfig(this.o.base)
    const { setups } = checkEdgeDevices(this.config, this.o.registry)
    await this.o.apply(this.config, setups)
    this.o.logger.warn({ version: this.state_.version }, 'central config apply failed: the config in force before is running again')
  }

  /** Re-reads every profile and rebuilds the devices: one left out for a bad profile is retried. */
  private async reloadProfiles(): Promise<void> {
    const { setups, problems } = checkEdgeDevices(this.config, this.o.registry)
    if (problems.length > 0) {
      await closeSetups(setups)
      throw new CommandRefused('EDGE_ERR_COMMAND_CONFIG', `reload-profiles: ${problems.length} problem(s)`, problems)
    }
    await this.o.apply(this.config, setups)
    const left = setups.filter((s) => s.profileError).length
    this.o.logger.info({ devices: setups.length, notPolled: left }, 'profiles reloaded')
    this.o.announce()
  }

  async close(): Promise<void> {
    this.closed = true
    this.watcher?.close()
    this.o.client.off('message', this.onMessage)
    await this.queue
  }
}

/**
 * The central config an earlier run applied, checked again against the file's config (so a file
 * change that makes it invalid falls back to the file's devices, logged); undefined when none.
 */
export async function loadStoredCentralConfig(
  base: EdgeConfig,
  registry: Readonly<Record<string, DriverFactory>> | undefined,
  logger: Logger,
): Promise<CandidateConfig | undefined> {
  const command = loadCentralConfig(base)
  if (!command) return undefined
  try {
    const c = await checkCommand(command, base, 0, registry)
    logger.info({ version: c.version }, 'starting with the central config applied earlier')
    return c
  } catch (err) {
    if (!(err instanceof CommandRefused)) throw err
    logger.warn({ code: err.code, problems: err.problems }, `the central config kept from an earlier run no longer validates: using the config file's devices`)
    return undefined
  }
}
