/**
 * The `plantwatt` command (bin/plantwatt.js). cli/ owns the command line: one file per command
 * under cli/commands/, the config file every command reads (config.ts, credentials.ts), and the
 * wiring of components into one process (wiring.ts, edge-gateways.ts). It holds no component logic.
 */
import { describeError } from '../core/errors.ts'
import { buildProgram } from './program.ts'

try {
  await buildProgram().parseAsync(process.argv)
} catch (err) {
  process.stderr.write(`plantwatt: ${describeError(err)}\n`)
  process.exitCode = 1
}
