import { readFileSync } from 'node:fs'
import Type from 'typebox'
import type { ConfigProblem } from '../../core/config.ts'
import { parseDuration } from '../../core/duration.ts'
import { PlantWattError } from '../../core/errors.ts'
import { ID_PATTERN } from '../../core/topic.ts'
import { CHANNEL_KINDS, CHANNEL_LANGUAGES, type ChannelKind, type NotifyChannel } from './channel.ts'
import { DingtalkChannel } from './dingtalk.ts'
import { EmailChannel } from './email.ts'
import { FeishuChannel } from './feishu.ts'
import type { DeliveryOptions } from './queue.ts'
import { WecomChannel } from './wecom.ts'

/**
 * Config of the notification channels (`alerts.channels`) and of escalation (`alerts.escalation`).
 * One schema for every channel kind, with the keys each kind accepts and requires checked by
 * `notifyProblems` (as rules.ts does for rule kinds), so a misplaced key is named by its path.
 * Secrets (robot URLs carry a token, signing secrets, SMTP passwords) come from the environment or
 * a file (`…Env`, `…File`); a literal `url` is accepted for robots that are not secret.
 */

// The same list as rules.ts SEVERITIES (checked by a test): rules.ts imports this module.
const SEVERITY_LEVELS = ['info', 'warning', 'critical'] as const
const EVENT_TYPES = ['opened', 'acknowledged', 'cleared'] as const
const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]*$'
const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })

export const ChannelSchema = Type.Object(
  {
    id: Id('channel id: named by escalation rules, in stats and logs'),
    kind: Type.Enum(CHANNEL_KINDS, { description: 'wecom (企业微信群机器人), dingtalk (钉钉自定义机器人), feishu (飞书/Lark 自定义机器人), email (SMTP)' }),
    language: Type.Enum(CHANNEL_LANGUAGES, { default: 'zh', description: 'language of the messages: zh (default) or en' }),
    use: Type.Enum(['always', 'escalation'], {
      default: 'always',
      description: 'always: every alert event that passes minSeverity and events; escalation: only escalations',
    }),
    minSeverity: Type.Enum(SEVERITY_LEVELS, { default: 'info', description: 'only alerts of at least this severity' }),
    events: Type.Array(Type.Enum(EVENT_TYPES), { default: ['opened', 'acknowledged', 'cleared'], minItems: 1, description: 'which alert events are sent' }),
    url: Type.Optional(Type.String({ pattern: '^https?://', description: 'robots: the webhook URL (one of url, urlEnv)' })),
    urlEnv: Type.Optional(Type.String({ pattern: ENV_NAME, description: 'robots: environment variable holding the webhook URL (its key/token is a secret)' })),
    secretEnv: Type.Optional(
      Type.String({ pattern: ENV_NAME, description: 'dingtalk (加签), feishu (签名校验): environment variable holding the signing secret' }),
    ),
    secretFile: Type.Optional(Type.String({ minLength: 1, description: 'dingtalk, feishu: file whose first line is the signing secret' })),
    format: Type.Optional(
      Type.Enum(['markdown', 'text', 'interactive'], {
        description: 'wecom, dingtalk: markdown (default) or text; feishu: interactive (card, default) or text',
      }),
    ),
    mentionMobiles: Type.Optional(
      Type.Array(Type.String({ pattern: '^(\\+?[0-9]{5,20}|@all)$' }), {
        description: 'wecom (format text only), dingtalk: mobile numbers to @-mention; @all: everyone (dingtalk: isAtAll)',
      }),
    ),
    host: Type.Optional(Type.String({ minLength: 1, description: 'email: SMTP server' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'email: default 465 (tls), 587 (starttls), 25 (none)' })),
    security: Type.Optional(Type.Enum(['tls', 'starttls', 'none'], { description: 'email: tls (implicit), starttls (default, required), none' })),
    username: Type.Optional(Type.String({ minLength: 1, description: 'email: SMTP AUTH user (then one of passwordEnv, passwordFile)' })),
    passwordEnv: Type.Optional(Type.String({ pattern: ENV_NAME, description: 'email: environment variable holding the SMTP password' })),
    passwordFile: Type.Optional(Type.String({ minLength: 1, description: 'email: file whose first line is the SMTP password' })),
    from: Type.Optional(Type.String({ pattern: '^[^\\s@]+@[^\\s@]+$|<[^\\s@]+@[^\\s@]+>$', description: 'email: sender address' })),
    to: Type.Optional(Type.Array(Type.String({ pattern: '^[^\\s@]+@[^\\s@]+$' }), { minItems: 1, description: 'email: recipients' })),
    timeoutMs: Type.Integer({ minimum: 100, default: 5000, description: 'per attempt; a hanging receiver is cut off' }),
    maxAttempts: Type.Integer({ minimum: 1, default: 4, description: 'attempts per message before it is given up (and counted)' }),
    initialBackoffMs: Type.Integer({ minimum: 1, default: 1000, description: 'wait before the 2nd attempt; doubles each time (jittered)' }),
    maxBackoffMs: Type.Integer({ minimum: 1, default: 60_000 }),
    queueSize: Type.Integer({ minimum: 1, default: 1000, description: 'messages waiting per channel; beyond, the oldest is dropped (and counted)' }),
  },
  { additionalProperties: false },
)

export const EscalationSchema = Type.Object(
  {
    id: Id('escalation rule id (recorded with each escalation)'),
    match: Type.Object(
      {
        enterprise: Type.Optional(Id('only alerts of this enterprise')),
        site: Type.Optional(Id('only alerts of this site')),
        line: Type.Optional(Id('only alerts of this line')),
        device: Type.Optional(Id('only alerts of this device')),
        rule: Type.Optional(Id('only alerts of this alert rule')),
      },
      { additionalProperties: false, default: {}, description: 'which alerts; every key given must match' },
    ),
    minSeverity: Type.Enum(SEVERITY_LEVELS, { default: 'warning', description: 'only alerts of at least this severity' }),
    after: Type.String({
      pattern: '^[1-9][0-9]{0,5}(s|m|h|d)$',
      description: 'escalate when still firing (not acknowledged, not resolved) this long after opening, e.g. 15m',
    }),
    channels: Type.Array(Id('channel id'), { minItems: 1, description: 'channels told of the escalation (alerts.channels ids)' }),
  },
  { additionalProperties: false },
)

export type ChannelConfig = Type.Static<typeof ChannelSchema>
export type EscalationConfig = Type.Static<typeof EscalationSchema>
type ChannelKey = keyof ChannelConfig

const COMMON: readonly ChannelKey[] = [
  'id',
  'kind',
  'language',
  'use',
  'minSeverity',
  'events',
  'timeoutMs',
  'maxAttempts',
  'initialBackoffMs',
  'maxBackoffMs',
  'queueSize',
]
const KIND_KEYS: Record<ChannelKind, { allowed: readonly ChannelKey[]; formats: readonly string[] }> = {
  wecom: { allowed: ['url', 'urlEnv', 'format', 'mentionMobiles'], formats: ['markdown', 'text'] },
  dingtalk: { allowed: ['url', 'urlEnv', 'secretEnv', 'secretFile', 'format', 'mentionMobiles'], formats: ['markdown', 'text'] },
  feishu: { allowed: ['url', 'urlEnv', 'secretEnv', 'secretFile', 'format'], formats: ['interactive', 'text'] },
  email: { allowed: ['host', 'port', 'security', 'username', 'passwordEnv', 'passwordFile', 'from', 'to'], formats: [] },
}

const oneOf = (c: ChannelConfig, keys: readonly ChannelKey[]): number => keys.filter((k) => c[k] !== undefined).length

function channelProblems(c: ChannelConfig, path: string): ConfigProblem[] {
  const out: ConfigProblem[] = []
  const spec = KIND_KEYS[c.kind]
  for (const key of Object.keys(c) as ChannelKey[]) {
    if (!(key in ChannelSchema.properties)) continue
    if (!COMMON.includes(key) && !spec.allowed.includes(key))
      out.push({ path: `${path}/${key}`, message: `does not apply to a ${c.kind} channel (allowed: ${spec.allowed.join(', ')})` })
  }
  if (c.format !== undefined && spec.formats.length > 0 && !spec.formats.includes(c.format))
    out.push({ path: `${path}/format`, message: `a ${c.kind} channel takes ${spec.formats.join(' or ')}` })
  // WeCom's markdown message has no mentioned_mobile_list (only <@userid> in its content, no @all):
  // mentions by mobile need the text message, so the combination is refused rather than dropped.
  if (c.kind === 'wecom' && (c.mentionMobiles?.length ?? 0) > 0 && c.format !== 'text')
    out.push({
      path: `${path}/mentionMobiles`,
      message:
        'a wecom markdown message cannot @-mention by mobile (only a text message carries mentioned_mobile_list): set format: text or remove mentionMobiles',
    })
  if (c.kind === 'email') {
    for (const k of ['host', 'from', 'to'] as const) if (c[k] === undefined) out.push({ path: `${path}/${k}`, message: 'required for an email channel' })
    const pw = oneOf(c, ['passwordEnv', 'passwordFile'])
    if (c.username !== undefined && pw !== 1)
      out.push({ path: `${path}/username`, message: `give the password as exactly one of passwordEnv, passwordFile${pw === 0 ? '' : ' (both are set)'}` })
    if (c.username === undefined && pw > 0) out.push({ path: `${path}/username`, message: 'a password needs a username' })
  } else {
    if (oneOf(c, ['url', 'urlEnv']) !== 1) out.push({ path: `${path}/url`, message: 'give exactly one of url, urlEnv' })
    if (oneOf(c, ['secretEnv', 'secretFile']) > 1) out.push({ path: `${path}/secretEnv`, message: 'give at most one of secretEnv, secretFile' })
  }
  return out
}

/** Problems across channels and escalation rules: kind keys, duplicate ids, unknown channel ids. */
export function notifyProblems(channels: unknown, escalation: unknown): ConfigProblem[] {
  const out: ConfigProblem[] = []
  const ids = new Map<string, number>()
  const list = Array.isArray(channels) ? (channels as ChannelConfig[]) : []
  list.forEach((c, i) => {
    if (!c || typeof c !== 'object') return
    if ((CHANNEL_KINDS as readonly string[]).includes(c.kind)) out.push(...channelProblems(c, `/channels/${i}`))
    if (typeof c.id !== 'string') return
    if (ids.has(c.id)) out.push({ path: `/channels/${i}/id`, message: `channel id ${JSON.stringify(c.id)} is also used by /channels/${ids.get(c.id)}` })
    else ids.set(c.id, i)
  })
  const rules = Array.isArray(escalation) ? (escalation as EscalationConfig[]) : []
  rules.forEach((r, i) => {
    if (!r || typeof r !== 'object' || !Array.isArray(r.channels)) return
    r.channels.forEach((id, j) => {
      if (typeof id === 'string' && !ids.has(id))
        out.push({ path: `/escalation/${i}/channels/${j}`, message: `no channel ${JSON.stringify(id)} in alerts.channels` })
    })
  })
  return out
}

/** A channel ready to queue to: the channel and how to deliver to it. */
export interface ResolvedChannel {
  config: ChannelConfig
  channel: NotifyChannel
  delivery: DeliveryOptions
}

export interface SecretSource {
  /** Default process.env. */
  env?: Readonly<Record<string, string | undefined>>
  /** Default: the first line of the file (fs.readFileSync). */
  readFirstLine?: (path: string) => string
}

/**
 * Creates the channels of a validated config, reading their secrets (no network I/O). Every missing
 * environment variable or unreadable file is reported at once in one ALERTS_ERR_CONFIG.
 */
export function createChannels(configs: readonly ChannelConfig[], timezone: string, secrets: SecretSource = {}): ResolvedChannel[] {
  const env = secrets.env ?? process.env
  const firstLine = secrets.readFirstLine ?? ((p: string) => readFileSync(p, 'utf8').split(/\r?\n/)[0] ?? '')
  const problems: ConfigProblem[] = []
  const secret = (path: string, envName: string | undefined, file: string | undefined): string | undefined => {
    if (envName !== undefined) {
      const v = env[envName]
      if (v === undefined || v === '') problems.push({ path, message: `environment variable ${envName} is not set` })
      return v
    }
    if (file === undefined) return undefined
    try {
      const v = firstLine(file)
      if (v === '') problems.push({ path, message: `${file} is empty` })
      return v
    } catch (err) {
      problems.push({ path, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` })
      return undefined
    }
  }
  const out = configs.map((c, i): ResolvedChannel => {
    const path = `/channels/${i}`
    const url = c.url ?? secret(`${path}/urlEnv`, c.urlEnv, undefined) ?? ''
    if (c.urlEnv !== undefined && url !== '' && !/^https?:\/\//.test(url))
      problems.push({ path: `${path}/urlEnv`, message: `${c.urlEnv} does not hold an http(s) URL` })
    const common = { id: c.id, language: c.language, timezone }
    let channel: NotifyChannel
    switch (c.kind) {
      case 'wecom':
        channel = new WecomChannel({ ...common, url, format: c.format === 'text' ? 'text' : 'markdown', mentionMobiles: c.mentionMobiles ?? [] })
        break
      case 'dingtalk':
        channel = new DingtalkChannel({
          ...common,
          url,
          secret: secret(`${path}/secretEnv`, c.secretEnv, c.secretFile),
          format: c.format === 'text' ? 'text' : 'markdown',
          mentionMobiles: c.mentionMobiles ?? [],
        })
        break
      case 'feishu':
        channel = new FeishuChannel({
          ...common,
          url,
          secret: secret(`${path}/secretEnv`, c.secretEnv, c.secretFile),
          format: c.format === 'text' ? 'text' : 'interactive',
        })
        break
      case 'email': {
        const security = c.security ?? 'starttls'
        const pass = secret(`${path}/passwordEnv`, c.passwordEnv, c.passwordFile)
        channel = new EmailChannel({
          ...common,
          host: c.host ?? '',
          port: c.port ?? (security === 'tls' ? 465 : security === 'starttls' ? 587 : 25),
          security,
          auth: c.username === undefined ? undefined : { user: c.username, pass: pass ?? '' },
          from: c.from ?? '',
          to: c.to ?? [],
          timeoutMs: c.timeoutMs,
        })
        break
      }
    }
    return {
      config: c,
      channel,
      delivery: {
        timeoutMs: c.timeoutMs,
        maxAttempts: c.maxAttempts,
        initialBackoffMs: c.initialBackoffMs,
        maxBackoffMs: c.maxBackoffMs,
        queueSize: c.queueSize,
      },
    }
  })
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')
    throw new PlantWattError('ALERTS_ERR_CONFIG', `alerts channels: ${problems.length} problem(s)\n${lines}`, { details: problems })
  }
  return out
}

/** An escalation duration in ms. */
export const escalationAfterMs = (text: string): number => (parseDuration(text) as { ms: number }).ms
