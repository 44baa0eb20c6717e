import { type FSWatcher, watch } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'

/**
 * Watches profile files and calls back (once, `delayMs` after the last change) when one of them is
 * written, replaced or removed. Each file's folder is watched, not the file: editors and config tools
 * replace a file by renaming a new one over it, which ends a watch on the file itself. A folder that
 * cannot be watched (gone, no permission) is skipped: the `reload-profiles` command still works.
 */
export class ProfileWatcher {
  private readonly watchers: FSWatcher[] = []
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(
    files: readonly string[],
    private readonly onChange: (files: string[]) => void,
    private readonly delayMs = 300,
  ) {
    const byDir = new Map<string, Set<string>>()
    for (const f of files) {
      const abs = resolve(f)
      const names = byDir.get(dirname(abs)) ?? new Set<string>()
      names.add(basename(abs))
      byDir.set(dirname(abs), names)
    }
    const changed = new Set<string>()
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || !names.has(name.toString())) return
          changed.add(resolve(dir, name.toString()))
          this.later(changed)
        })
        w.on('error', () => w.close())
        this.watchers.push(w)
      } catch {
        // not watchable: left to the reload-profiles command
      }
    }
  }

  /** Folders being watched. */
  get size(): number {
    return this.watchers.length
  }

  private later(changed: Set<string>): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      if (this.closed) return
      const files = [...changed].sort()
      changed.clear()
      this.onChange(files)
    }, this.delayMs)
    this.timer.unref()
  }

  close(): void {
    this.closed = true
    clearTimeout(this.timer)
    for (const w of this.watchers.splice(0)) w.close()
  }
}

/** A device's profile when it is a file path (a shipped profile's bare name is not watched). */
export function watchableProfile(profile: unknown): string | undefined {
  return typeof profile === 'string' && (profile.includes('/') || profile.includes('\\') || /\.ya?ml$/i.test(profile)) ? profile : undefined
}
