import { describe, expect, it } from 'vitest'
import { checkBrokerAction } from './broker.ts'

describe('plantwatt broker', () => {
  it('runs the broker, or hashes a password with passwd; other actions are refused', () => {
    expect(checkBrokerAction(undefined)).toBe('run')
    expect(checkBrokerAction('passwd')).toBe('passwd')
    expect(() => checkBrokerAction('password')).toThrow('unknown broker action "password" (expected passwd)')
  })
})
