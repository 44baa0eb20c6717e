/**
 * The MQTT broker (Aedes): who may connect (users, throttled logins), which sessions are whose,
 * what may be published, subscribed and delivered (ACL, publish policy), bounded queues, transports
 * and counters. See broker/README.md.
 */
export { BrokerConfigSchema, type BrokerConfig } from './config.ts'
export {
  startBroker,
  anonymousAllowed,
  type BrokerConfigInput,
  type BrokerAccessControl,
  type BrokerStats,
  type RunningBroker,
  type StartBrokerOptions,
} from './server.ts'
export { judgePublish, deadLetterEnvelope, DEAD_LETTER_COPY_BYTES, type PublishVerdict, type PublishPolicyOptions } from './publish-policy.ts'
export { BrokerUserSchema, type BrokerUser } from './config.ts'
export { hashPassword, verifyPassword, parsePasswordHash, SCRYPT_DEFAULTS, type PasswordHash } from './password.ts'
export { compileAcl, filterWithin, BROKER_ROLES, COMMAND_CHANNEL, type AclSubject, type BrokerRole, type ClientAcl } from './acl.ts'
