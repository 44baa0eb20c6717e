import { describeOutboxContract } from './outbox.contract.ts'
import { createMemoryOutbox } from './outbox.ts'

describeOutboxContract('memory', ({ maxSamples }) => createMemoryOutbox({ maxSamples }))
