import { readFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'
import { referenceLayerProblems, resolveReferenceLayers, type ReferenceConfig, type ReferenceData, type ReferenceLayer } from '../analytics/index.ts'
import { parseConfigText, type ConfigProblem } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'

/**
 * The reference data of a config file (`reference:` section): the shipped tables with the files it
 * names (relative to the config file) and then its inline keys merged in, resolved once at load.
 * Every problem of every file — unreadable, bad YAML, bad keys, tariffs with overlapping periods —
 * in one CORE_ERR_CONFIG naming the file and the path.
 */
export function loadReferenceData(section: ReferenceConfig | undefined, configFile: string | undefined): ReferenceData {
  const key = JSON.stringify(section ?? {})
  const cached = resolvedBySection.get(key)
  if (cached) return cached
  const where = configFile ?? 'config'
  const { layers, problems } = readReferenceFiles(section?.files ?? [], configFile)
  if (section) {
    const { files: _files, ...inline } = section
    if (Object.keys(inline).length > 0) layers.push({ overrides: inline, source: `${where}: reference` })
  }
  problems.push(...layers.flatMap(referenceLayerProblems))
  if (problems.length > 0) throw configError(where, problems)
  let data: ReferenceData
  try {
    data = resolveReferenceLayers(layers)
  } catch (cause) {
    if (!(cause instanceof PlantWattError)) throw cause
    throw new PlantWattError('CORE_ERR_CONFIG', `${where}: ${cause.message}`, { cause, details: cause.details })
  }
  resolvedBySection.set(key, data)
  return data
}

/**
 * Problems of the reference files a raw (unvalidated) config names: loadPlantWattConfig adds them
 * to the problems of the rest of the file, so one run of `plantwatt check` shows them all.
 */
export function referenceFileProblems(rawSection: unknown, configFile: string | undefined): ConfigProblem[] {
  const files = (rawSection as { files?: unknown } | undefined)?.files
  if (!Array.isArray(files) || !files.every((f) => typeof f === 'string' && f.length > 0)) return []
  const { layers, problems } = readReferenceFiles(files as string[], configFile)
  return [...problems, ...layers.flatMap(referenceLayerProblems)]
}

/** Adds the reference files' problems to a CORE_ERR_CONFIG of the config file (other errors unchanged). */
export function withReferenceFileProblems(err: unknown, rawSection: unknown, configFile: string | undefined): unknown {
  if (!(err instanceof PlantWattError) || err.code !== 'CORE_ERR_CONFIG' || !Array.isArray(err.details)) return err
  const more = referenceFileProblems(rawSection, configFile)
  if (more.length === 0) return err
  const all = [...(err.details as ConfigProblem[]), ...more]
  return configError(configFile ?? 'config', all, err)
}

function readReferenceFiles(files: readonly string[], configFile: string | undefined): { layers: ReferenceLayer[]; problems: ConfigProblem[] } {
  const baseDir = configFile ? dirname(resolve(configFile)) : process.cwd()
  const layers: ReferenceLayer[] = []
  const problems: ConfigProblem[] = []
  for (const [i, file] of files.entries()) {
    const path = resolve(baseDir, file)
    const shown = relative(baseDir, path)
    try {
      layers.push({ overrides: parseConfigText(readFileSync(path, 'utf8'), shown), source: shown })
    } catch (cause) {
      const message = cause instanceof PlantWattError ? cause.message : `cannot read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`
      problems.push({ path: `reference.files[${i}] (${shown})`, message })
    }
  }
  return { layers, problems }
}

function configError(where: string, problems: readonly ConfigProblem[], cause?: unknown): PlantWattError {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')
  return new PlantWattError('CORE_ERR_CONFIG', `${where}: ${problems.length} problem(s)\n${lines}`, { details: problems, ...(cause ? { cause } : {}) })
}

/**
 * Resolved once per section content: the API, the CLI commands and a copy of the config with the
 * environment's secrets (load-config.ts) all get the same tables without reading the files again.
 */
const resolvedBySection = new Map<string, ReferenceData>()

/**
 * The config's `reference.files` made absolute (relative to the config file), in the raw parsed
 * YAML before validation, so the section means the same wherever it is resolved later.
 */
export function absoluteReferenceFiles(raw: Record<string, unknown>, configFile: string | undefined): void {
  const section = raw.reference as { files?: unknown } | undefined
  if (!section || typeof section !== 'object' || !Array.isArray(section.files)) return
  const baseDir = configFile ? dirname(resolve(configFile)) : process.cwd()
  section.files = section.files.map((f: unknown) => (typeof f === 'string' && f.length > 0 ? resolve(baseDir, f) : f))
}

/** The reference data of a loaded config (resolved at load by loadPlantWattConfig; cached). */
export function referenceOf(cfg: { readonly reference?: ReferenceConfig | undefined }): ReferenceData {
  return loadReferenceData(cfg.reference, undefined)
}
