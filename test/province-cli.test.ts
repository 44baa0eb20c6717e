/** `plantwatt province -c province.yaml` as a user runs it: HTTPS from the file, the registry, a coded config error. */
import { spawn, spawnSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { get } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { makeTestCa } from './tls-ca.ts'

const BIN = join(import.meta.dirname, '..', 'bin', 'plantwatt.js')

describe('plantwatt province', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-province-cli-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('serves the registry of province.yaml over HTTPS and stops on SIGTERM', async () => {
    const ca = makeTestCa(dir)
    writeFileSync(join(dir, 'acme.pub.pem'), generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }))
    const yaml = [
      'province:',
      '  name: Hubei',
      `  tls: { certFile: ${ca.certFile}, keyFile: ${ca.keyFile} }`,
      `  dataDir: ${join(dir, 'data')}`,
      '  enterprises:',
      `    - { id: acme, name: Acme, city: wuhan, publicKeyFile: ${join(dir, 'acme.pub.pem')} }`,
    ].join('\n')
    writeFileSync(join(dir, 'province.yaml'), yaml)
    const child = spawn(process.execPath, [BIN, 'province', '-c', join(dir, 'province.yaml'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve(out)
      })
      child.once('exit', (code) => reject(new Error(`exited ${code}`)))
    })
    expect(line).toMatch(/^Province service Hubei: 1 enterprises, on https:\/\/127\.0\.0\.1:\d+\//)
    const url = /https:\/\/[0-9.:]+/.exec(line)?.[0] ?? ''
    const health = await new Promise<string>((resolve, reject) => {
      get(`${url}/health`, { ca: readFileSync(ca.caFile) }, (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.on('end', () => resolve(text))
      }).on('error', reject)
    })
    expect(JSON.parse(health)).toEqual({ status: 'ok', enterprises: 1, records: 0, current: 0, receipts: 0 })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })

  it('refuses a registry entry without a key, naming it', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'province:\n  enterprises:\n    - { id: acme, name: Acme, city: wuhan }\n')
    const r = spawnSync(process.execPath, [BIN, 'province', '-c', join(dir, 'bad.yaml'), '--port', '0'], { encoding: 'utf8', timeout: 30_000 })
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain('/enterprises/0: publicKey or publicKeyFile is required')
  })
})
