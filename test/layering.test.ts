/**
 * The dependency rules of ARCHITECTURE.md, checked on every `.ts` file git tracks (tests beside the
 * code, `*.test.ts`, are not read). Each file's imports — `import … from`, `export … from`,
 * `import('…')` calls and `import('…')` types with a literal — are extracted, relative ones resolved
 * to the top-level folder they land in, and every rule below is asserted with the offending
 * `file → import` listed. The folder READMEs and the root README's layout table are checked too.
 *
 * `LAYERING_MATRIX=1 npx vitest run test/layering.test.ts` prints the folder → folders matrix of
 * production and tool files, which each folder's README summarises under "What it owns and what it may import".
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * Every top-level folder holding `.ts` files. A new folder fails the test until it is added here,
 * given its rules below and a README saying what it owns and what it may import.
 */
const COMPONENTS = [
  'alerts',
  'analytics',
  'api',
  'bench',
  'broker',
  'cli',
  'core',
  'dashboards',
  'edge-agent',
  'importer',
  'ingest',
  'province',
  'records',
  'reports',
  'simulators',
  'storage',
  'test',
  'upload',
] as const
/** Top-level folders (and `.`, the root's own files) that hold tools, not product: they may import anything. */
const TOOL_FOLDERS = new Set(['bench', 'test', 'docs', '.'])
/** Packages analytics/ may use: pure, no I/O. Anything else (node:fs, mqtt, fastify …) breaks the rule. */
const PURE_PACKAGES = [/^typebox(\/|$)/]

/**
 * Known breaks of a rule, as `file → import`, each with a comment naming it. The test fails for any
 * violation not listed here, and for an entry that no longer breaks a rule (remove it then).
 * None today: the tree kept every rule when this test was written.
 */
const KNOWN_EXCEPTIONS: ReadonlySet<string> = new Set<string>([])

/** Module specifiers a TypeScript source imports, in source order. */
function importsOf(source: string, fileName = 'source.ts'): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const specs: string[] = []
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text)
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expr = node.moduleReference.expression
      if (ts.isStringLiteral(expr)) specs.push(expr.text)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0]
      // import(name) with a computed name cannot be checked; the rules see literal ones only
      if (arg && ts.isStringLiteralLike(arg)) specs.push(arg.text)
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) specs.push(arg.literal.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  return specs
}

/** The repository path a relative specifier of `fromFile` lands on; undefined for a package. */
function resolveImport(fromFile: string, spec: string): string | undefined {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return undefined
  return posix.normalize(posix.join(posix.dirname(fromFile), spec))
}

/** The top-level folder of a repository path; `.` for a file at the root. */
function topFolder(path: string): string {
  const slash = path.indexOf('/')
  return slash < 0 ? '.' : path.slice(0, slash)
}

/** Test code outside `test/`: unit tests, contract suites, `testing/` folders, `test-*.ts` helpers and fixtures. */
function isTestSupport(path: string): boolean {
  return /\.test\.ts$|\.contract\.ts$|(^|\/)testing\/|(^|\/)test-[^/]*\.ts$/.test(path)
}

/** What ships: not a tool folder, not test code. */
function isProduction(path: string): boolean {
  return !TOOL_FOLDERS.has(topFolder(path)) && !isTestSupport(path)
}

/** One import of one file. `target` is the repository path of a relative import. */
interface Edge {
  file: string
  spec: string
  target?: string | undefined
}

interface Rule {
  name: string
  /** Whether this edge breaks the rule. */
  breaks(e: { file: string; spec: string; target?: string | undefined; from: string; to?: string | undefined }): boolean
}

/** Checked first: an import that leaves the repository breaks this rule alone, not the folder rules. */
const INSIDE_REPOSITORY: Rule = {
  name: 'no relative import leaves the repository',
  breaks: (e) => e.target !== undefined && (e.target === '..' || e.target.startsWith('../')),
}

const RULES: readonly Rule[] = [
  {
    name: 'core/ imports no other top-level folder',
    breaks: (e) => isProduction(e.file) && e.from === 'core' && e.to !== undefined && e.to !== 'core',
  },
  {
    name: 'analytics/ imports only core/ (and itself)',
    breaks: (e) => isProduction(e.file) && e.from === 'analytics' && e.to !== undefined && e.to !== 'core' && e.to !== 'analytics',
  },
  {
    name: 'analytics/ is pure: no client library, no node I/O module (see PURE_PACKAGES)',
    breaks: (e) => isProduction(e.file) && e.from === 'analytics' && e.to === undefined && !PURE_PACKAGES.some((p) => p.test(e.spec)),
  },
  {
    name: 'records/ imports only core/, analytics/ and the storage/ contracts (store.ts, events.ts)',
    breaks: (e) =>
      isProduction(e.file) &&
      e.from === 'records' &&
      e.to !== undefined &&
      !['core', 'analytics', 'records'].includes(e.to) &&
      !(e.target === 'storage/store.ts' || e.target === 'storage/events.ts'),
  },
  {
    name: 'records/ is imported only by api/, reports/, cli/, importer/, alerts/ (meter events) (and bench/, test/)',
    breaks: (e) => isProduction(e.file) && e.to === 'records' && !['records', 'api', 'reports', 'cli', 'importer', 'alerts'].includes(e.from),
  },
  {
    name: 'simulators/ never import edge-agent/ (each side decodes register words on its own)',
    breaks: (e) => isProduction(e.file) && e.from === 'simulators' && e.to === 'edge-agent',
  },
  {
    name: 'edge-agent/ never imports simulators/ (each side decodes register words on its own)',
    breaks: (e) => isProduction(e.file) && e.from === 'edge-agent' && e.to === 'simulators',
  },
  {
    name: 'edge-agent/ and broker/ know nothing of storage/',
    breaks: (e) => isProduction(e.file) && (e.from === 'edge-agent' || e.from === 'broker') && e.to === 'storage',
  },
  {
    name: 'api/ never reaches into edge-agent/',
    breaks: (e) => isProduction(e.file) && e.from === 'api' && e.to === 'edge-agent',
  },
  {
    name: 'province/ imports only core/ (and itself): the province sees uploads, never raw telemetry',
    breaks: (e) => isProduction(e.file) && e.from === 'province' && e.to !== undefined && e.to !== 'core' && e.to !== 'province',
  },
  {
    name: 'upload/ imports of province/ only its wire contract (message.ts, signing.ts), and nothing of api/ or cli/',
    breaks: (e) =>
      isProduction(e.file) &&
      e.from === 'upload' &&
      ((e.to === 'province' && e.target !== 'province/message.ts' && e.target !== 'province/signing.ts') || e.to === 'api' || e.to === 'cli'),
  },
  {
    // covers cli/ too: it may import anything else
    name: 'production code imports no bench/, test/, testing/ folder, *.test.ts, *.contract.ts or test-*.ts',
    breaks: (e) => isProduction(e.file) && e.target !== undefined && (e.to === 'bench' || e.to === 'test' || isTestSupport(e.target)),
  },
]

/** `rule: file → import` for every edge that breaks a rule. */
function violations(edges: readonly Edge[]): string[] {
  const found: string[] = []
  for (const edge of edges) {
    const e = { ...edge, from: topFolder(edge.file), to: edge.target === undefined ? undefined : topFolder(edge.target) }
    const broken = INSIDE_REPOSITORY.breaks(e) ? [INSIDE_REPOSITORY] : RULES.filter((rule) => rule.breaks(e))
    for (const rule of broken) found.push(`${rule.name}: ${edge.file} → ${edge.spec}`)
  }
  return found
}

/** The exception key of a violation line: its `file → import` part. */
function exceptionKey(violation: string): string {
  return violation.slice(violation.lastIndexOf(': ') + 2)
}

function trackedPaths(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '')
}

function trackedSources(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', '*.ts'], { cwd: ROOT, encoding: 'utf8' })
  // a tracked file deleted in the working tree (someone's edit in progress) has nothing to read
  return out.split('\0').filter((f) => f !== '' && !f.endsWith('.test.ts') && existsSync(`${ROOT}/${f}`))
}

function treeEdges(files: readonly string[]): Edge[] {
  return files.flatMap((file) => importsOf(readFileSync(`${ROOT}/${file}`, 'utf8'), file).map((spec) => ({ file, spec, target: resolveImport(file, spec) })))
}

/** folder → (folder it imports → number of imports), over production and tool files (test code left out). */
function matrixOf(edges: readonly Edge[]): Map<string, Map<string, number>> {
  const matrix = new Map<string, Map<string, number>>()
  for (const e of edges) {
    if (e.target === undefined || isTestSupport(e.file)) continue
    const row = matrix.get(topFolder(e.file)) ?? new Map<string, number>()
    matrix.set(topFolder(e.file), row)
    row.set(topFolder(e.target), (row.get(topFolder(e.target)) ?? 0) + 1)
  }
  return matrix
}

describe('the import extractor', () => {
  it('finds static imports, re-exports, import() calls and import() types with a literal', () => {
    const source = [
      "import a from '../core/a.ts'",
      "import type { B } from './b.ts'",
      "import './side-effect.ts'",
      'import * as store from "../storage/store.ts"',
      'import {',
      '  one,',
      '  two,',
      "} from '../core/multi-line.ts'",
      "import { Type } from 'typebox'",
      "export { x } from '../analytics/x.ts'",
      "export * from './all.ts'",
      "export type { T } from './types.ts'",
      "const sim = await import('../simulators/index.ts')",
      'const tpl = await import(`./template.ts`)',
      "type App = typeof import('../api/app.ts')",
      'const fs = await import("node:fs")',
    ].join('\n')
    expect(importsOf(source)).toEqual([
      '../core/a.ts',
      './b.ts',
      './side-effect.ts',
      '../storage/store.ts',
      '../core/multi-line.ts',
      'typebox',
      '../analytics/x.ts',
      './all.ts',
      './types.ts',
      '../simulators/index.ts',
      './template.ts',
      '../api/app.ts',
      'node:fs',
    ])
  })

  it('ignores comments, strings, computed import() and local exports', () => {
    const source = [
      "// import z from '../commented.ts'",
      "/* export * from '../block-comment.ts' */",
      `const s = "import q from '../in-a-string.ts'"`,
      "const t = `import('../in-a-template.ts')`",
      'const name = "./x.ts"',
      'const m = await import(name)',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
      'const n = await import(`./${name}`)',
      'export const y = 1',
      'export { y as z }',
    ].join('\n')
    expect(importsOf(source)).toEqual([])
  })

  it('resolves relative specifiers to repository paths and top-level folders', () => {
    expect(resolveImport('api/routes/import.ts', '../../importer/index.ts')).toBe('importer/index.ts')
    expect(resolveImport('core/topic.ts', './errors.ts')).toBe('core/errors.ts')
    expect(resolveImport('vitest.config.ts', './test/global-setup.ts')).toBe('test/global-setup.ts')
    expect(resolveImport('core/topic.ts', '../../elsewhere.ts')).toBe('../elsewhere.ts')
    expect(resolveImport('core/topic.ts', 'typebox')).toBeUndefined()
    expect(resolveImport('core/topic.ts', 'node:fs')).toBeUndefined()
    expect(topFolder('edge-agent/modbus/driver.ts')).toBe('edge-agent')
    expect(topFolder('vitest.config.ts')).toBe('.')
  })

  it('tells test code from production code', () => {
    expect(isTestSupport('storage/store.contract.ts')).toBe(true)
    expect(isTestSupport('reports/testing/figures-fixture.ts')).toBe(true)
    expect(isTestSupport('edge-agent/modbus/test-fixtures.ts')).toBe(true)
    expect(isTestSupport('core/topic.test.ts')).toBe(true)
    expect(isTestSupport('storage/store.ts')).toBe(false)
    expect(isTestSupport('core/latest-test.ts')).toBe(false)
    expect(isProduction('cli/main.ts')).toBe(true)
    expect(isProduction('bench/run.ts')).toBe(false)
    expect(isProduction('test/influxd.ts')).toBe(false)
    expect(isProduction('analytics/test-helpers.ts')).toBe(false)
  })

  it('names each rule a made-up tree breaks, and lets tools and tests through', () => {
    const edge = (file: string, spec: string): Edge => ({ file, spec, target: resolveImport(file, spec) })
    expect(
      violations([
        edge('core/topic.ts', '../storage/store.ts'),
        edge('analytics/energy.ts', '../reports/scope.ts'),
        edge('analytics/energy.ts', 'node:fs'),
        edge('analytics/energy.ts', 'typebox/value'),
        edge('simulators/modbus/server.ts', '../../edge-agent/modbus/decode.ts'),
        edge('edge-agent/modbus/driver.ts', '../../simulators/modbus/encode.ts'),
        edge('broker/server.ts', '../storage/index.ts'),
        edge('api/app.ts', '../edge-agent/index.ts'),
        edge('cli/main.ts', '../bench/run.ts'),
        edge('ingest/ingest.ts', './test-helpers.ts'),
        edge('storage/index.ts', './store.contract.ts'),
        edge('api/routes/sec.ts', '../../reports/testing/figures-fixture.ts'),
        edge('core/topic.ts', '../../outside.ts'),
        // allowed
        edge('cli/main.ts', '../simulators/index.ts'),
        edge('bench/run.ts', '../test/influxd.ts'),
        edge('edge-agent/driver.contract.ts', '../simulators/index.ts'),
        edge('analytics/test-helpers.ts', 'node:fs'),
        edge('core/topic.ts', 'typebox'),
      ]).map(exceptionKey),
    ).toEqual([
      'core/topic.ts → ../storage/store.ts',
      'analytics/energy.ts → ../reports/scope.ts',
      'analytics/energy.ts → node:fs',
      'simulators/modbus/server.ts → ../../edge-agent/modbus/decode.ts',
      'edge-agent/modbus/driver.ts → ../../simulators/modbus/encode.ts',
      'broker/server.ts → ../storage/index.ts',
      'api/app.ts → ../edge-agent/index.ts',
      'cli/main.ts → ../bench/run.ts',
      'ingest/ingest.ts → ./test-helpers.ts',
      'storage/index.ts → ./store.contract.ts',
      'api/routes/sec.ts → ../../reports/testing/figures-fixture.ts',
      'core/topic.ts → ../../outside.ts',
    ])
  })
})

describe('the dependency rules of ARCHITECTURE.md', () => {
  const files = trackedSources()
  const edges = treeEdges(files)

  if (process.env.LAYERING_MATRIX) {
    const lines = [...matrixOf(edges)]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([from, row]) =>
          `${from.padEnd(11)} → ${[...row]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([to, n]) => `${to} (${n})`)
            .join(', ')}`,
      )
    console.log(`imports of production and tool files (tests left out), folder → folders:\n${lines.join('\n')}`)
  }

  it('reads the whole tree', () => {
    // guards against an extractor that silently finds nothing
    expect(files.length).toBeGreaterThan(100)
    expect(edges.filter((e) => e.target !== undefined).length).toBeGreaterThan(500)
    expect(matrixOf(edges).get('cli')?.get('core')).toBeGreaterThan(0)
  })

  it('knows every top-level folder that holds TypeScript', () => {
    const known = new Set<string>([...COMPONENTS, ...TOOL_FOLDERS])
    const unknown = [...new Set(files.map(topFolder))].filter((f) => !known.has(f))
    expect(unknown, 'a new top-level folder: add it to COMPONENTS (or TOOL_FOLDERS) with its rules and a README').toEqual([])
  })

  it('holds in the tree, apart from the known exceptions', () => {
    const found = violations(edges)
    const fresh = found.filter((v) => !KNOWN_EXCEPTIONS.has(exceptionKey(v)))
    expect(fresh, `imports that break a dependency rule (ARCHITECTURE.md, "Dependency rules"):\n${fresh.join('\n')}\n`).toEqual([])
    const stale = [...KNOWN_EXCEPTIONS].filter((x) => !found.some((v) => exceptionKey(v) === x))
    expect(stale, 'known exceptions that no longer break a rule: remove them from KNOWN_EXCEPTIONS').toEqual([])
  })

  it('is stated in each folder README', () => {
    const missing = COMPONENTS.filter((folder) => {
      const readme = `${ROOT}/${folder}/README.md`
      return !existsSync(readme) || !readFileSync(readme, 'utf8').includes('\n## What it owns and what it may import\n')
    })
    expect(missing, 'folders whose README.md lacks "## What it owns and what it may import"').toEqual([])
  })

  it('has one row per top-level folder in the root README layout table', () => {
    const folders = [...new Set(trackedPaths().map(topFolder))].filter((f) => f !== '.').sort()
    const readme = readFileSync(`${ROOT}/README.md`, 'utf8')
    const table = readme.slice(readme.indexOf('\n## Layout\n')).split('\n## ')[1] ?? ''
    const rows = [...table.matchAll(/^\| `([^`/]+)\/` \|/gm)].map((m) => m[1]).sort()
    expect(rows, 'README.md "## Layout": one row per top-level folder of `git ls-files`').toEqual(folders)
  })
})
