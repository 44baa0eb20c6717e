import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { requireCommand } from './system.ts'

export interface TestCa {
  /** PEM of the CA that signed the server certificate. */
  caFile: string
  certFile: string
  keyFile: string
  /** A CA nobody configured (a client trusting only it must refuse the server). */
  rogueCaFile: string
}

/** A CA, a server certificate for 127.0.0.1/localhost signed by it, and a stranger's CA; made with openssl in `dir`. */
export function makeTestCa(dir: string): TestCa {
  requireCommand('openssl', 'openssl')
  const f = (name: string): string => join(dir, name)
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore', cwd: dir })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=plantwatt-test-ca')
  openssl('req', '-x509', ...ec, '-keyout', f('rogue-ca.key'), '-out', f('rogue-ca.crt'), '-days', '1', '-subj', '/CN=rogue-ca')
  openssl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=province')
  execFileSync('sh', ['-c', `printf '%s\\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' > server.ext`], { cwd: dir })
  openssl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '1',
    '-extfile',
    f('server.ext'),
  )
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key'), rogueCaFile: f('rogue-ca.crt') }
}
