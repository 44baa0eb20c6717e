import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { DeviceResolver, resolveFixedDevice } from './device-resolver.ts'

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    {
      id: 'acme',
      sites: [
        {
          id: 'wuhan',
          lines: [
            { id: 'l1', devices: [{ id: 'meter' }, { id: 'press', kind: 'machine' }] },
            { id: 'l2', devices: [{ id: 'meter' }] },
          ],
        },
      ],
    },
    { id: 'beta', sites: [{ id: 'x', timezone: 'Europe/Berlin', lines: [{ id: 'l1', devices: [{ id: 'b-only' }] }] }] },
  ],
})

describe('DeviceResolver', () => {
  it('resolves a full address and a unique bare id, with the zone of its site', () => {
    const r = new DeviceResolver({ plant: PLANT }, undefined)
    expect(r.resolve(' acme/wuhan/l1/press ')).toEqual({
      ok: true,
      device: {
        address: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'press' },
        key: 'acme/wuhan/l1/press',
        tags: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'press' },
        timezone: 'Asia/Shanghai',
      },
    })
    expect(r.resolve('b-only')).toMatchObject({ ok: true, device: { key: 'beta/x/l1/b-only', timezone: 'Europe/Berlin' } })
    expect(new DeviceResolver({ plant: PLANT }, 'UTC').resolve('b-only')).toMatchObject({ ok: true, device: { timezone: 'UTC' } })
  })

  it('refuses an ambiguous id, an unknown address and text that is neither', () => {
    const r = new DeviceResolver({ plant: PLANT }, undefined)
    expect(r.resolve('meter')).toEqual({
      ok: false,
      code: 'IMPORT_ERR_DEVICE_AMBIGUOUS',
      message: 'id "meter" names 2 devices (acme/wuhan/l1/meter, acme/wuhan/l2/meter); write enterprise/site/line/device',
    })
    expect(r.resolve('acme/wuhan/l9/meter')).toEqual({
      ok: false,
      code: 'IMPORT_ERR_DEVICE_UNKNOWN',
      message: 'device acme/wuhan/l9/meter is not in the plant model',
    })
    expect(r.resolve('a/b')).toMatchObject({
      ok: false,
      code: 'IMPORT_ERR_DEVICE_UNKNOWN',
      message: '"a/b" is neither enterprise/site/line/device nor a device id',
    })
  })

  it("answers a tenant the same for another enterprise's device and a device that does not exist", () => {
    const r = new DeviceResolver({ plant: PLANT, enterprise: 'acme' }, undefined)
    const text = (t: string) => JSON.stringify(r.resolve(t)).replace(t, '<d>')
    expect(text('beta/x/l1/b-only')).toBe(text('beta/x/l1/nothing'))
    expect(text('b-only')).toBe(text('nothing'))
    expect(r.resolve('b-only')).toEqual({
      ok: false,
      code: 'IMPORT_ERR_DEVICE_UNKNOWN',
      message: 'no device with id "b-only" in the plant model of enterprise acme',
    })
    const refused = new DeviceResolver({ plant: PLANT, authorize: (a) => a.device !== 'press' }, undefined)
    expect(refused.resolve('press')).toEqual({ ok: false, code: 'IMPORT_ERR_DEVICE_UNKNOWN', message: 'no device with id "press" in the plant model' })
  })
})

describe('resolveFixedDevice', () => {
  it('resolves the device option, or refuses it as IMPORT_ERR_OPTIONS', () => {
    const r = new DeviceResolver({ plant: PLANT }, undefined)
    expect(resolveFixedDevice(r, undefined)).toBeUndefined()
    expect(resolveFixedDevice(r, 'press')?.key).toBe('acme/wuhan/l1/press')
    expect(() => resolveFixedDevice(r, 'meter')).toThrow(
      expect.toSatisfy((e: unknown) => isPlantWattError(e, 'IMPORT_ERR_OPTIONS') && /^option device: id "meter" names 2 devices/.test(e.message)),
    )
  })
})
