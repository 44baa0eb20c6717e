export { BrokerConfigSchema, type BrokerConfig } from './config.ts'
export { startBroker, type BrokerAccessControl, type BrokerStats, type RunningBroker, type StartBrokerOptions } from './server.ts'
export { judgePublish, deadLetterEnvelope, DEAD_LETTER_COPY_BYTES, type PublishVerdict, type PublishPolicyOptions } from './publish-policy.ts'
