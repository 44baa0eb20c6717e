import Database from 'better-sqlite3'

/**
 * Test fixture generator: a store file exactly as release 1 (schema version 1) wrote it — the
 * tables, the user_version and the event log's table — with the given points, without any of this
 * release's code, so the migration is tested from the previous release's file.
 */
export function writeRelease1File(
  path: string,
  points: readonly { measurement: string; tags: Record<string, string>; field: string; ts: number; value: number }[],
): void {
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    db.exec(`
      CREATE TABLE series (id INTEGER PRIMARY KEY, measurement TEXT NOT NULL, tags TEXT NOT NULL, field TEXT NOT NULL, UNIQUE (measurement, tags, field));
      CREATE TABLE points (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID;
      CREATE TABLE events (kind TEXT NOT NULL, tags TEXT NOT NULL, ts INTEGER NOT NULL, fields TEXT NOT NULL, PRIMARY KEY (kind, tags, ts)) WITHOUT ROWID;
      CREATE INDEX events_kind_ts ON events (kind, ts);
    `)
    const series = db.prepare('INSERT INTO series (measurement, tags, field) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET field = excluded.field RETURNING id')
    const point = db.prepare('INSERT OR REPLACE INTO points (series_id, ts, value) VALUES (?, ?, ?)')
    db.transaction(() => {
      for (const p of points) {
        // Release 1 keyed tags by their canonical JSON: keys sorted.
        const tags = JSON.stringify(Object.fromEntries(Object.entries(p.tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
        const { id } = series.get(p.measurement, tags, p.field) as { id: number }
        point.run(id, p.ts, p.value)
      }
      db.prepare('INSERT INTO events VALUES (\'alert_event\', \'{"rule":"r1"}\', 1, \'{"state":"firing"}\')').run()
    })()
    db.pragma('user_version = 1')
  } finally {
    db.close()
  }
}
