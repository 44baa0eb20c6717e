import { execFileSync, spawnSync } from 'node:child_process'

/** True when `command` is on the PATH. */
export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

/**
 * Makes sure a system command a test needs is there: installs its Debian package when running as
 * root with apt-get, otherwise fails with a message naming the package. Never lets a test skip.
 */
export function requireCommand(command: string, debianPackage: string): void {
  if (hasCommand(command)) return
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (isRoot && hasCommand('apt-get')) {
    try {
      execFileSync('sh', ['-c', `(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${debianPackage}`], {
        stdio: 'inherit',
        timeout: 600_000,
      })
    } catch {
      // fall through to the message below
    }
    if (hasCommand(command)) return
  }
  throw new Error(`tests need '${command}' from the Debian package '${debianPackage}': install it (apt-get install ${debianPackage}) and run the tests again`)
}
