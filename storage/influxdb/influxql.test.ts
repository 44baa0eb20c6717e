import { describe, expect, it } from 'vitest'
import { fromClause, ident, literal, tagConditions, where } from './influxql.ts'

describe('InfluxQL text', () => {
  it('escapes identifiers and string literals with the four escapes the scanner knows', () => {
    expect(ident('active_power_kw')).toBe('"active_power_kw"')
    expect(ident('a "b" c')).toBe('"a \\"b\\" c"')
    expect(literal(`Mill "No. 1", bay=3 'east'`)).toBe(`'Mill \\"No. 1\\", bay=3 \\'east\\''`)
    expect(literal('x\\y\nz')).toBe("'x\\\\y\\nz'")
  })

  it('builds tag conditions, lists as OR groups', () => {
    expect(tagConditions({ line: 'l1', device: ['d1', "d'2"] })).toEqual([`"line" = 'l1'`, `("device" = 'd1' OR "device" = 'd\\'2')`])
    expect(where(tagConditions(undefined))).toBe('')
    expect(where(['a', 'b'])).toBe(' WHERE a AND b')
  })

  it('qualifies the measurement only with a retention policy', () => {
    expect(fromClause('telemetry', 'db', undefined)).toBe('"telemetry"')
    expect(fromClause('telemetry', 'db', 'one year')).toBe('"db"."one year"."telemetry"')
  })
})
