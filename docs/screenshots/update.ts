/**
 * `npm run screenshots`: runs the browser test of the views (test/browser/views.test.ts, the hubei
 * scenario in headless Chromium), which saves test-artifacts/view-<view>-<width>x<height>.png, and
 * copies those PNGs here. `--no-run` copies what test-artifacts/ already holds.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..', '..')
const ARTIFACTS = join(ROOT, 'test-artifacts')
const HERE = import.meta.dirname

if (!process.argv.includes('--no-run')) {
  const run = spawnSync('npx', ['vitest', 'run', 'test/browser/views.test.ts'], { cwd: ROOT, stdio: 'inherit' })
  if (run.status !== 0) {
    console.error('screenshots: the browser test failed; nothing copied')
    process.exit(run.status ?? 1)
  }
}

const started = Date.now()
const shots = readdirSync(ARTIFACTS).filter((f) => /^view-[a-z-]+-\d+x\d+\.png$/.test(f))
if (shots.length === 0) {
  console.error(`screenshots: no view-*.png in ${ARTIFACTS}: run without --no-run`)
  process.exit(1)
}
for (const f of shots.sort()) {
  copyFileSync(join(ARTIFACTS, f), join(HERE, f))
  const age = Math.round((started - statSync(join(ARTIFACTS, f)).mtimeMs) / 60_000)
  console.log(`${f}  (${Math.round(statSync(join(HERE, f)).size / 1024)} KiB, taken ${age} min ago)`)
}
console.log(`screenshots: ${shots.length} files copied to docs/screenshots/`)
