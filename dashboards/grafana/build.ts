import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DEFAULT_TIMEZONE } from '../../core/windows.ts'
import { buildDashboards, type DashboardOptions } from './dashboards.ts'
import { buildOperationsDashboard } from './operations.ts'
import { dashboardProviderYaml, datasourceYaml } from './provisioning.ts'

/** What writeGrafanaFolder wrote. */
export interface WrittenGrafanaFolder {
  dashboards: string[]
  provisioning: string[]
}

/**
 * Writes `<out>/dashboards/*.json` and `<out>/provisioning/{datasources,dashboards}/plantwatt.yaml`,
 * a folder Grafana loads with `GF_PATHS_PROVISIONING=<out>/provisioning`. `dashboardsPath` is where
 * Grafana will find the JSON (default: the absolute path of `<out>/dashboards`; give the mount point
 * when Grafana runs in a container).
 */
export function writeGrafanaFolder(out: string, options: DashboardOptions & { dashboardsPath?: string } = {}): WrittenGrafanaFolder {
  const dashDir = join(out, 'dashboards')
  const provDir = join(out, 'provisioning')
  // A dashboard removed from the code must disappear from Grafana too: start from an empty folder.
  rmSync(dashDir, { recursive: true, force: true })
  mkdirSync(dashDir, { recursive: true })
  mkdirSync(join(provDir, 'datasources'), { recursive: true })
  mkdirSync(join(provDir, 'dashboards'), { recursive: true })
  const all = [...buildDashboards(options), buildOperationsDashboard(options.timezone ?? DEFAULT_TIMEZONE)]
  const dashboards = all.map(({ file, dashboard }) => {
    const path = join(dashDir, file)
    writeFileSync(path, JSON.stringify(dashboard, null, 2) + '\n')
    return path
  })
  const ds = join(provDir, 'datasources', 'plantwatt.yaml')
  writeFileSync(ds, datasourceYaml())
  const dp = join(provDir, 'dashboards', 'plantwatt.yaml')
  writeFileSync(dp, dashboardProviderYaml(options.dashboardsPath ?? resolve(dashDir)))
  return { dashboards, provisioning: [ds, dp] }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'dashboards/grafana/out' },
      timezone: { type: 'string' },
      'dashboards-path': { type: 'string' },
    },
  })
  const out = values.out as string
  const written = writeGrafanaFolder(out, {
    ...(values.timezone ? { timezone: values.timezone } : {}),
    ...(values['dashboards-path'] ? { dashboardsPath: values['dashboards-path'] } : {}),
  })
  for (const f of [...written.dashboards, ...written.provisioning]) console.log(`wrote ${f}`)
  console.log(
    `Grafana: GF_PATHS_PROVISIONING=${resolve(out, 'provisioning')} with PLANTWATT_INFLUX_URL, PLANTWATT_INFLUX_DATABASE (and _USERNAME, _PASSWORD) set`,
  )
}
