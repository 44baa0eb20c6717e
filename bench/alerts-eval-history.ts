import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { replayAlerts } from '../alerts/replay.ts'
import { validateAlertsConfig } from '../alerts/rules.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { importUci, rulesWithSettings, uciPath, uciPlantModel } from './alerts-eval-real.ts'

/**
 * How much history the recommended rules need on a real line (on demand:
 * `npx tsx bench/alerts-eval-history.ts [--histories=2w,4w,…]`): the UCI steel works' clean second
 * half of 2018 (no faults: every alert is a false alarm) replayed with the anomaly, spike and standby
 * rules learning from `history` — once on 2018-07-02, and as live (relearned every day from the
 * history before it). Prints false alarms per device-week and per rule, JSON.
 */

const FROM = Date.UTC(2018, 6, 1, 15) // 2018-07-02 00:00 Seoul
const TO = Date.UTC(2018, 11, 30, 15) // 2018-12-31 00:00 Seoul
const LEARNING = ['power-anomaly', 'power-spike', 'standby-waste'] as const

export interface HistoryRow {
  history: string
  relearn: 'once' | 'live'
  alerts: number
  falseAlarmsPerDeviceWeek: number
  byRule: Record<string, number>
  ms: number
}

export async function runHistoryComparison(histories: readonly string[]): Promise<HistoryRow[]> {
  const plant = uciPlantModel()
  const dir = mkdtempSync(join(tmpdir(), 'pw-alerts-history-'))
  const store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
  try {
    await importUci(uciPath(), store, plant)
    const out: HistoryRow[] = []
    for (const history of histories) {
      const { rules } = validateAlertsConfig({ rules: rulesWithSettings(LEARNING.map((id) => `${id}.history=${history}`)) }, 'history comparison')
      for (const relearn of ['once', 'live'] as const) {
        const t0 = Date.now()
        const r = await replayAlerts({ store, plant, rules, from: FROM, to: TO, stepMs: 5 * 60_000, relearn, maxRelearns: Number.POSITIVE_INFINITY })
        const byRule: Record<string, number> = {}
        for (const a of r.alerts) byRule[a.rule] = (byRule[a.rule] ?? 0) + 1
        out.push({ history, relearn, alerts: r.alerts.length, falseAlarmsPerDeviceWeek: r.alertsPerDeviceWeek, byRule, ms: Date.now() - t0 })
      }
    }
    return out
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = process.argv.find((a) => a.startsWith('--histories='))
  const histories = arg ? arg.slice(12).split(',') : ['2w', '4w', '8w', '13w', '26w', '52w']
  runHistoryComparison(histories)
    .then((rows) => process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`history comparison failed: ${(err as Error).message}\n`)
      process.exitCode = 2
    })
}
