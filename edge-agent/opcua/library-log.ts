import { format, stripVTControlCharacters } from 'node:util'
import { setDebugLogger, setErrorLogger, setWarningLogger } from 'node-opcua'
import type { Logger } from '../../core/logger.ts'

/** Longest library message kept, characters (a certificate dump is ~3 kB; a message dump can be far more). */
const MAX_MESSAGE = 4000

let target: Logger | undefined
let installed = false

/** node-opcua-debug calls its loggers with the caller's file and line first, then console-style arguments. */
function forward(kind: 'debug' | 'warning' | 'error') {
  return (context?: unknown, ...args: unknown[]): void => {
    const logger = target
    if (!logger?.isLevelEnabled('debug')) return
    const ctx = context as { filename?: string; callerline?: number } | undefined
    let text = stripVTControlCharacters(format(...args))
    if (text.length > MAX_MESSAGE) text = `${text.slice(0, MAX_MESSAGE)}… (${text.length} characters)`
    logger.debug({ kind, at: ctx?.filename ? `${ctx.filename}:${ctx.callerline}` : undefined }, text)
  }
}

/**
 * Routes node-opcua's own output (its warning, error and debug loggers, which print coloured,
 * multi-line text — 14 lines with a whole certificate on every refused connect — to the console)
 * to `logger` at debug; without a logger it is dropped. node-opcua's loggers are process-wide: the
 * most recent logger given receives them.
 */
export function routeOpcuaLibraryLog(logger?: Logger): void {
  if (logger) target = logger.child({ library: 'node-opcua' })
  if (installed) return
  installed = true
  setWarningLogger(forward('warning'))
  setErrorLogger(forward('error'))
  setDebugLogger(forward('debug'))
}
