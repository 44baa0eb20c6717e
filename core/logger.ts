import { pino, type Logger } from 'pino'

export type { Logger }

/** The project's logger: JSON lines on stderr; `level` from PLANTWATT_LOG_LEVEL (default info). */
export function createLogger(name: string, level = process.env.PLANTWATT_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, redact: ['password', '*.password', 'token', '*.token'] }, pino.destination(2))
}

/** A logger that discards everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
