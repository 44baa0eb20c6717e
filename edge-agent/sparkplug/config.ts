import Type from 'typebox'
import type { ConfigProblem } from '../../core/config.ts'
import { PlantWattError } from '../../core/errors.ts'
import { deviceKey } from '../../core/plant.ts'
import type { DeviceAddress } from '../../core/topic.ts'

/** Sparkplug B 3.0 §4.1.1: ids are UTF-8 without `/`, `+` and `#`. */
const SPARKPLUG_ID = '^[^/+#]{1,128}$'
const SparkplugId = (description: string) => Type.String({ pattern: SPARKPLUG_ID, description })

/** `edge.sparkplug`: how the agent appears as a Sparkplug B edge node (with `publisher: sparkplug`). */
export const EdgeSparkplugSchema = Type.Object(
  {
    groupId: SparkplugId("Sparkplug group id; on PlantWatt's broker a gateway may only publish the group named like its enterprise"),
    edgeNodeId: Type.Optional(SparkplugId("this agent's edge node id (default: agentId)")),
    primaryHostId: Type.Optional(
      SparkplugId(
        'the primary host application this node serves (e.g. ingest with ingest.sparkplug.primaryHostId): the node is born only while spBv1.0/STATE/<id> says online, and holds its data in the outbox (sent later as historical) while it says offline',
      ),
    ),
    devices: Type.Array(
      Type.Object(
        {
          line: Type.Optional(Type.String({ description: 'line id of the PlantWatt device, when the agent has devices of that id on several lines' })),
          device: Type.String({ description: 'PlantWatt device id' }),
          sparkplugId: SparkplugId('its Sparkplug device id'),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'PlantWatt devices published under another Sparkplug device id (the others keep their device id)' },
    ),
  },
  { additionalProperties: false },
)

export type EdgeSparkplugConfig = Type.Static<typeof EdgeSparkplugSchema>

/** The edge node's identity and each device's Sparkplug device id, checked. */
export interface SparkplugIdentity {
  groupId: string
  edgeNodeId: string
  /** Device key (e/s/l/d) → Sparkplug device id. */
  deviceIds: ReadonlyMap<string, string>
  /** The primary host application whose STATE gates births and data (none: always publish). */
  primaryHostId?: string
}

/**
 * Resolves `edge.sparkplug` against the agent's devices; EDGE_ERR_CONFIG with every problem: no
 * section, a mapping entry that names no device, two devices with one Sparkplug device id.
 */
export function sparkplugIdentity(section: EdgeSparkplugConfig | undefined, agentId: string, addresses: readonly DeviceAddress[]): SparkplugIdentity {
  const devices = addresses.map((a) => ({ ...a, key: deviceKey(a) }))
  if (section === undefined) throw new PlantWattError('EDGE_ERR_CONFIG', 'edge.publisher is sparkplug but edge.sparkplug (groupId …) is missing')
  const problems: ConfigProblem[] = []
  const deviceIds = new Map<string, string>()
  const owner = new Map<string, string>()
  for (const d of devices) {
    const entry = section.devices.find((m) => m.device === d.device && (m.line === undefined || m.line === d.line))
    const id = entry?.sparkplugId ?? d.device
    const other = owner.get(id)
    if (other !== undefined)
      problems.push({ path: '/sparkplug/devices', message: `devices ${other} and ${d.key} would both be Sparkplug device ${JSON.stringify(id)}` })
    owner.set(id, d.key)
    deviceIds.set(d.key, id)
  }
  section.devices.forEach((m, i) => {
    if (!devices.some((d) => d.device === m.device && (m.line === undefined || m.line === d.line)))
      problems.push({ path: `/sparkplug/devices/${i}`, message: `no device ${m.line === undefined ? '' : `${m.line}/`}${m.device} in edge.devices` })
  })
  if (problems.length > 0) {
    throw new PlantWattError(
      'EDGE_ERR_CONFIG',
      `edge.sparkplug: ${problems.length} problem(s)\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
      {
        details: problems,
      },
    )
  }
  return {
    groupId: section.groupId,
    edgeNodeId: section.edgeNodeId ?? agentId,
    deviceIds,
    ...(section.primaryHostId === undefined ? {} : { primaryHostId: section.primaryHostId }),
  }
}
