import type { ConfigProblem } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'

/**
 * Codes of a profile that cannot be loaded or validated (Modbus and OPC UA alike). The agent leaves
 * such a device out of polling and reports it with its code; every other device goes on.
 */
export const PROFILE_ERROR_CODES = {
  /** A shipped profile name that does not exist (the message lists the shipped ones). */
  unknown: 'EDGE_ERR_PROFILE_UNKNOWN',
  /** A profile path whose file does not exist. */
  missing: 'EDGE_ERR_PROFILE_MISSING',
  /** A profile file that exists but cannot be read (permissions, a folder …). */
  unreadable: 'EDGE_ERR_PROFILE_UNREADABLE',
  /** YAML that does not parse (line and column in the message). */
  syntax: 'EDGE_ERR_PROFILE_SYNTAX',
  /** Wrong keys or types in the profile (path of each bad key). */
  schema: 'EDGE_ERR_PROFILE_SCHEMA',
  /** Two points read the same register or bit. */
  overlap: 'EDGE_ERR_PROFILE_OVERLAP',
  /** A register or bit outside 0..65535 (counting the registers a value spans). */
  range: 'EDGE_ERR_PROFILE_RANGE',
  /** An OPC UA node id that is not node id syntax. */
  nodeId: 'EDGE_ERR_PROFILE_NODE_ID',
  /** Any other point problem (unknown quantity, type not fitting the table, missing ratio register …), and a profile with problems of several kinds. */
  invalid: 'EDGE_ERR_PROFILE_INVALID',
} as const
export type ProfileErrorCode = (typeof PROFILE_ERROR_CODES)[keyof typeof PROFILE_ERROR_CODES]

/** One problem of a profile: its own code, where in the profile (JSON pointer; '' for the file as a whole) and what. */
export interface ProfileProblem extends ConfigProblem {
  code: ProfileErrorCode
}

/** True for any error of a profile that cannot be loaded or validated (every code above). */
export function isProfileError(err: unknown): err is PlantWattError {
  return err instanceof PlantWattError && err.code.startsWith('EDGE_ERR_PROFILE')
}

/**
 * One error for every problem of a profile. Its code is the problems' code when they share one, else
 * EDGE_ERR_PROFILE_INVALID (each line then carries its own code); `details` lists the problems.
 */
export function profileProblemsError(file: string, problems: readonly ProfileProblem[]): PlantWattError {
  const codes = new Set(problems.map((p) => p.code))
  const code = codes.size === 1 ? (problems[0] as ProfileProblem).code : PROFILE_ERROR_CODES.invalid
  const lines = problems.map((p) => `  ${p.path}: ${p.message}${codes.size > 1 ? ` (${p.code})` : ''}`).join('\n')
  return new PlantWattError(code, `profile ${file}: ${problems.length} problem(s)\n${lines}`, { details: problems.map((p) => ({ ...p })) })
}

/** An error of the profile file as a whole (unknown name, missing or unreadable file, bad YAML). */
export function profileFileError(code: ProfileErrorCode, message: string, cause: unknown): PlantWattError {
  return new PlantWattError(code, message, { cause, details: [{ code, path: '', message }] satisfies ProfileProblem[] })
}

/** The problems of a profile error, one per problem (a file-level error is one problem). */
export function profileProblemsOf(err: PlantWattError): ProfileProblem[] {
  const details = err.details
  if (Array.isArray(details) && details.every((d) => typeof d === 'object' && d !== null && typeof (d as ProfileProblem).code === 'string')) {
    return (details as ProfileProblem[]).map((p) => ({ code: p.code, path: p.path, message: p.message }))
  }
  return [{ code: isProfileError(err) && isKnownCode(err.code) ? err.code : PROFILE_ERROR_CODES.invalid, path: '', message: err.message }]
}

const KNOWN = new Set<string>(Object.values(PROFILE_ERROR_CODES))
function isKnownCode(code: string): code is ProfileErrorCode {
  return KNOWN.has(code)
}

/** Maps a failed read of a profile file to its code: a shipped name that does not exist, a missing path, or another read failure. */
export function readFailureCode(cause: unknown, shippedName: boolean): ProfileErrorCode {
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code
  if (errno === 'ENOENT' || errno === 'ENOTDIR') return shippedName ? PROFILE_ERROR_CODES.unknown : PROFILE_ERROR_CODES.missing
  return PROFILE_ERROR_CODES.unreadable
}

/** Why a device is left out of polling: its profile's error, with every problem of the profile. */
export interface DeviceProfileError {
  /** EDGE_ERR_PROFILE_* (the problems' code, or EDGE_ERR_PROFILE_INVALID for several kinds). */
  code: string
  /** The whole error, naming the profile file and every problem. */
  message: string
  /** The device's `profile` setting (shipped name or path). */
  profile: string
  problems: ProfileProblem[]
}

/** The status form of a profile error for a device configured with `profile`. */
export function deviceProfileError(err: PlantWattError, profile: string): DeviceProfileError {
  return { code: err.code, message: err.message, profile, problems: profileProblemsOf(err) }
}
