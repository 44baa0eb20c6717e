import { describe, expect, it } from 'vitest'
import { compileAcl } from './acl.ts'
import { sparkplugCanPublish, sparkplugCanSubscribe } from './sparkplug-acl.ts'

describe('Sparkplug B ACL', () => {
  const gateway = compileAcl({ role: 'gateway', enterprise: 'acme', site: 'wuhan' })
  const ingest = compileAcl({ role: 'ingest' })
  const service = compileAcl({ role: 'service' })

  it('a gateway publishes what an edge node sends, in its own enterprise’s group only', () => {
    for (const topic of [
      'spBv1.0/acme/NBIRTH/edge-1',
      'spBv1.0/acme/NDEATH/edge-1',
      'spBv1.0/acme/NDATA/edge-1',
      'spBv1.0/acme/DBIRTH/edge-1/m1',
      'spBv1.0/acme/DDATA/edge-1/m1',
      'spBv1.0/acme/DDEATH/edge-1/m1',
    ])
      expect(sparkplugCanPublish(gateway, topic), topic).toBe(true)
    for (const topic of [
      'spBv1.0/other/DDATA/edge-1/m1', // another enterprise's group
      'spBv1.0/acme/NCMD/edge-1', // commands come from hosts
      'spBv1.0/acme/DCMD/edge-1/m1',
      'spBv1.0/acme/DDATA/edge-1', // device message without a device
      'spBv1.0/acme/NDATA/edge-1/m1',
      'spBv1.0/STATE/host',
      'spBv1.0/acme/DDATA/edge-1/m1/x',
      'pw/v1/acme/wuhan/l/d/state', // not Sparkplug: the gateway's own ACL decides
    ])
      expect(sparkplugCanPublish(gateway, topic), topic).toBe(false)
  })

  it('a gateway subscribes to its own nodes’ commands and to hosts’ STATE', () => {
    for (const f of [
      'spBv1.0/acme/NCMD/edge-1',
      'spBv1.0/acme/NCMD/+',
      'spBv1.0/acme/DCMD/edge-1/+',
      'spBv1.0/acme/DCMD/edge-1/#',
      'spBv1.0/STATE/+',
      'spBv1.0/STATE/host-1',
    ])
      expect(sparkplugCanSubscribe(gateway, f), f).toBe(true)
    for (const f of ['spBv1.0/#', 'spBv1.0/+/NCMD/+', 'spBv1.0/other/NCMD/edge-1', 'spBv1.0/acme/DDATA/+/+', 'spBv1.0/acme/#', 'spBv1.0/STATE/#'])
      expect(sparkplugCanSubscribe(gateway, f), f).toBe(false)
  })

  it('ingest reads every group, sends NCMD and the retained state of mapped devices; service gets nothing', () => {
    expect(sparkplugCanSubscribe(ingest, 'spBv1.0/+/#')).toBe(true)
    expect(sparkplugCanPublish(ingest, 'spBv1.0/acme/NCMD/edge-1')).toBe(true)
    expect(sparkplugCanPublish(ingest, 'pw/v1/acme/wuhan/rolling-1/meter-1/state')).toBe(true)
    expect(sparkplugCanPublish(ingest, 'spBv1.0/acme/DDATA/edge-1/m1')).toBe(false)
    expect(sparkplugCanPublish(ingest, 'pw/v1/acme/wuhan/rolling-1/meter-1/data')).toBe(false)
    // Its own STATE as a primary host application, one host id, no wildcards.
    expect(sparkplugCanPublish(ingest, 'spBv1.0/STATE/plantwatt')).toBe(true)
    for (const topic of ['spBv1.0/STATE/+', 'spBv1.0/STATE/#', 'spBv1.0/STATE/', 'spBv1.0/STATE/a/b'])
      expect(sparkplugCanPublish(ingest, topic), topic).toBe(false)
    expect(sparkplugCanSubscribe(service, 'spBv1.0/#')).toBe(false)
    expect(sparkplugCanPublish(service, 'spBv1.0/acme/NCMD/edge-1')).toBe(false)
  })
})
