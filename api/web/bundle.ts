import { fileURLToPath } from 'node:url'
import { PlantWattError } from '../../core/errors.ts'

type Esbuild = typeof import('esbuild')

/** The UI's entry module (browser code, checked by api/web/tsconfig.json). */
export const UI_ENTRY = fileURLToPath(new URL('./src/main.ts', import.meta.url))
const UI_TSCONFIG = fileURLToPath(new URL('./tsconfig.json', import.meta.url))

export interface BundleUiOptions {
  /** Loads esbuild; default `import('esbuild')` (installed with tsx and vite). For tests. */
  loadEsbuild?: () => Promise<Esbuild>
  /** Default true: whitespace and syntax minified, names kept (readable stack traces in bug reports). */
  minify?: boolean
}

/**
 * Bundles the web UI (api/web/src/**\/*.ts) into one ES module, in memory, with esbuild: ~20–50 ms
 * on the CI machine. Types are erased, not checked (`npm test` checks them). Throws
 * `API_ERR_UI_BUNDLE` naming the cause when esbuild is missing or a source does not build.
 */
export async function bundleUi(opts: BundleUiOptions = {}): Promise<string> {
  let esbuild: Esbuild
  try {
    esbuild = await (opts.loadEsbuild ?? (() => import('esbuild')))()
  } catch (cause) {
    throw new PlantWattError(
      'API_ERR_UI_BUNDLE',
      'the web UI is bundled at start with esbuild, which is not installed: run `npm install` (esbuild comes with tsx)',
      { cause },
    )
  }
  const minify = opts.minify ?? true
  try {
    const out = await esbuild.build({
      entryPoints: [UI_ENTRY],
      tsconfig: UI_TSCONFIG,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      // Chinese labels as they are, not \u escapes: the page is served as UTF-8.
      charset: 'utf8',
      minifyWhitespace: minify,
      minifySyntax: minify,
      legalComments: 'none',
      logLevel: 'silent',
    })
    const file = out.outputFiles[0]
    if (!file) throw new Error('esbuild wrote no output')
    return file.text
  } catch (cause) {
    const errors = (cause as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? []
    const where = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)).join('; ')
    throw new PlantWattError('API_ERR_UI_BUNDLE', `the web UI (api/web/src) did not build${where ? `: ${where}` : ''}`, { cause })
  }
}

let cached: Promise<string> | undefined

/** The UI bundle of this process: built on the first call, then the same text (sources change only with a restart). A failed build is not kept. */
export function uiBundle(): Promise<string> {
  cached ??= bundleUi().catch((err: unknown) => {
    cached = undefined
    throw err
  })
  return cached
}
