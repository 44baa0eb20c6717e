import { readdirSync, readFileSync } from 'node:fs'
import { parseConfigText } from '../core/config.ts'
import { PROFILE_ERROR_CODES as CODES, profileFileError, readFailureCode } from './profile-error.ts'

/** A shipped profile's name (what `profile:` may say instead of a path). */
const NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/

/** Where `nameOrPath` is read from: `<dir><name>.yaml` for a shipped profile's name, otherwise the path itself. */
export function profileFile(nameOrPath: string, dir: string): string {
  return NAME_RE.test(nameOrPath) && !/\.ya?ml$/.test(nameOrPath) ? `${dir}${nameOrPath}.yaml` : nameOrPath
}

/** Names of the profiles shipped in `dir` (its .yaml files), sorted. */
export function shippedProfileNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort()
}

/**
 * Reads and parses a profile file, Modbus or OPC UA alike: EDGE_ERR_PROFILE_UNKNOWN (no shipped profile
 * of that name; the message lists the shipped ones), EDGE_ERR_PROFILE_MISSING, EDGE_ERR_PROFILE_UNREADABLE,
 * EDGE_ERR_PROFILE_SYNTAX (bad YAML). The caller validates what it returns.
 */
export function readProfileFile(nameOrPath: string, dir: string, kind: { name: string; listing: string }): { file: string; raw: unknown } {
  const file = profileFile(nameOrPath, dir)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    const errno = (cause as NodeJS.ErrnoException).code ?? 'error'
    const code = readFailureCode(cause, file !== nameOrPath)
    const message =
      code === CODES.unknown
        ? `profile ${JSON.stringify(nameOrPath)}: no shipped ${kind.name} profile of that name: cannot read ${file} (${errno}) (${kind.listing}: ${shippedProfileNames(dir).join(', ')})`
        : `profile ${JSON.stringify(nameOrPath)}: cannot read ${file} (${errno})${code === CODES.missing ? ': no such file' : ''}`
    throw profileFileError(code, message, cause)
  }
  try {
    return { file, raw: parseConfigText(text, file) }
  } catch (cause) {
    throw profileFileError(CODES.syntax, (cause as Error).message, cause)
  }
}
