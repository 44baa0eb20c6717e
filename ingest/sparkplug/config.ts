import Type from 'typebox'
import { ID_PATTERN } from '../../core/topic.ts'

/** The text a Sparkplug id may hold here: no MQTT separators or wildcards (Sparkplug B 3.0 §4.1.1). */
const SPARKPLUG_ID = '^[^/+#]{1,128}$'

/**
 * A pattern over one Sparkplug name: `*` matches any text (also empty, also `/` in a metric name),
 * `{name}` captures text without `/` for use in the target. Everything else is literal.
 */
const Pattern = (description: string) => Type.String({ minLength: 1, maxLength: 256, default: '*', description })

/** Which Sparkplug metrics a rule takes. */
export const SparkplugMatchSchema = Type.Object(
  {
    group: Pattern('group id pattern'),
    node: Pattern('edge node id pattern'),
    device: Pattern('device id pattern; a node-level metric (NBIRTH/NDATA) has the empty device id'),
    metric: Pattern('metric name pattern, e.g. "Meter/{quantity}" or "Active Power"'),
  },
  { additionalProperties: false, default: {} },
)

/** Where a matched metric goes. Text fields may use the match's captures: `{node}`, `{quantity}` … */
export const SparkplugTargetSchema = Type.Object(
  {
    enterprise: Type.String({ minLength: 1, description: 'enterprise id; `{capture}`s are filled in lower case' }),
    site: Type.String({ minLength: 1, description: 'site id; `{capture}`s are filled in lower case' }),
    line: Type.String({ minLength: 1, description: 'line id; `{capture}`s are filled in lower case' }),
    device: Type.String({ minLength: 1, description: 'device id; `{capture}`s are filled in lower case' }),
    quantity: Type.String({ minLength: 1, description: 'canonical quantity from core/quantities.ts (captures allowed, e.g. "{quantity}")' }),
    scale: Type.Number({ default: 1, description: 'stored value = metric value × scale + offset, into the quantity’s unit (e.g. 0.001 for W → kW)' }),
    offset: Type.Number({ default: 0, description: 'added after scaling, in the quantity’s unit' }),
  },
  { additionalProperties: false },
)

export const SparkplugRuleSchema = Type.Object(
  { match: SparkplugMatchSchema, to: SparkplugTargetSchema },
  { additionalProperties: false, description: 'the first rule whose match fits a metric maps it' },
)

/** `ingest.sparkplug`: telemetry of Sparkplug B 3.0 edge nodes (Ignition Edge, Neuron, a PlantWatt agent …). */
export const SparkplugIngestSchema = Type.Object(
  {
    groups: Type.Array(Type.Union([Type.Literal('+'), Type.String({ pattern: SPARKPLUG_ID })]), {
      minItems: 1,
      default: ['+'],
      description: 'group ids subscribed as spBv1.0/<group>/# ("+": every group)',
    }),
    enterprises: Type.Record(Type.String({ pattern: SPARKPLUG_ID }), Type.String({ pattern: ID_PATTERN }), {
      default: {},
      description:
        "group id → the enterprise its data belongs to; a group not listed belongs to the enterprise of its own name (as PlantWatt's broker lets a gateway publish only that group). A rule that maps a group's metric into another enterprise leaves it unmapped",
    }),
    rebirth: Type.Enum(['request', 'never'], {
      default: 'request',
      description: 'request: data before its birth, or after a seq gap, makes ingest publish NCMD Node Control/Rebirth to the node; never: only dead-letter it',
    }),
    rebirthIntervalMs: Type.Integer({ minimum: 0, default: 5000, description: 'at most one rebirth request per node in this time, ms' }),
    primaryHostId: Type.Optional(
      Type.String({
        pattern: SPARKPLUG_ID,
        description:
          'announce ingest as this Sparkplug primary host application: spBv1.0/STATE/<id> online while ingest runs (its own MQTT session with the offline will); edge nodes configured with this primary host id send data only then and store it otherwise. Not with partition.count > 1',
      }),
    ),
    mapping: Type.Array(SparkplugRuleSchema, {
      default: [],
      description: 'rules from Sparkplug metrics to devices and canonical quantities, first match wins',
    }),
  },
  { additionalProperties: false },
)

export type SparkplugIngestConfig = Type.Static<typeof SparkplugIngestSchema>
export type SparkplugRule = Type.Static<typeof SparkplugRuleSchema>
