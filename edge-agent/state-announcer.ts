import type { AgentConfigState } from './central-config.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import type { DeviceAddress } from '../core/topic.ts'
import type { DeviceEntry, DeviceTable } from './device-table.ts'
import type { Publisher } from './publisher.ts'

export interface StateAnnouncerOptions {
  publisher: Pick<Publisher, 'publishState'>
  devices: Pick<DeviceTable, 'all' | 'countersOf' | 'agentCounters'>
  agentId: string
  /** The agent's own state topic (its last will); absent without devices. */
  agentAddress: DeviceAddress | undefined
  /** The configuration in force, carried in the agent's own state (central-config.ts). */
  agentConfig?: () => AgentConfigState
}

/**
 * Retained `state` messages (birth and death): the agent's and each device's, with their counters.
 * Published on every (re)connect, when a device connects or goes away, every statusIntervalMs
 * while connected (counters go stale otherwise), and as `offline` when the agent stops.
 */
export class StateAnnouncer {
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly o: StateAnnouncerOptions) {}

  /**
   * The agent online, then every device it has reached or tried to poll, and every device it does
   * not poll (offline, with the profile error).
   */
  announceAll(): void {
    const { publisher, devices, agentId, agentAddress } = this.o
    if (agentAddress) void publisher.publishState(agentAddress, 'online', agentId, devices.agentCounters(), undefined, this.o.agentConfig?.())
    for (const e of devices.all()) {
      if (!e.poller) {
        void publisher.publishState(e.address, 'offline', agentId, devices.countersOf(e.key), e.profileError)
        continue
      }
      const polled = e.poller.counters.reads + e.poller.counters.readErrors > 0
      // A device that went down while the broker was away would otherwise keep a stale 'online'.
      if (e.poller.connected || polled)
        void publisher.publishState(e.address, e.poller.connected ? 'online' : 'offline', agentId, devices.countersOf(e.key), e.stateError?.())
    }
  }

  /** A device's driver connected or lost its connection, or its trouble changed (the state carries the current one). */
  deviceChanged(entry: DeviceEntry, connected: boolean): void {
    void this.o.publisher.publishState(
      entry.address,
      connected ? 'online' : 'offline',
      this.o.agentId,
      this.o.devices.countersOf(entry.key),
      entry.stateError?.(),
    )
  }

  /** Every `intervalMs`, all states again while `connected()` says so. */
  startPeriodic(intervalMs: number, connected: () => boolean): void {
    this.timer = setInterval(() => {
      if (connected()) this.announceAll()
    }, intervalMs)
    this.timer.unref()
  }

  stopPeriodic(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Every device and the agent offline; waits for the broker's acknowledgements at most `timeoutMs`. */
  async announceOffline(timeoutMs: number): Promise<void> {
    const { publisher, devices, agentId, agentAddress } = this.o
    const deadline = sleep(timeoutMs)
    const offline = [...devices.all()].map((e) =>
      publisher.publishState(e.address, 'offline', agentId, devices.countersOf(e.key), e.profileError ?? e.stateError?.()),
    )
    if (agentAddress) offline.push(publisher.publishState(agentAddress, 'offline', agentId, devices.agentCounters()))
    await Promise.race([Promise.all(offline), deadline])
  }
}
