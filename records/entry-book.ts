import { PlantWattError } from '../core/errors.ts'
import type { PlantModel } from '../core/plant.ts'
import type { TagFilter } from '../storage/store.ts'
import { ENTRY_KINDS, bodyOfEntry, entryOfRecord, type Entry, type EntryInput, type EntryKind } from './entries.ts'
import { checkEntryInputs, entriesError, type EntryProblem } from './entry-rules.ts'
import { kindOfRecordId, type RecordStore, type StoredRecord } from './store.ts'

/**
 * The entries of a plant: submitted, revised and voided through the record store, checked against
 * the rules (`entry-rules.ts`) and the plant model, and refused when they overlap a current entry of
 * the same scope (+ carrier + direction for energy). Check and write run inside the store's
 * `exclusive`, so two submissions of this process cannot both pass the overlap check.
 */

export interface EntryQuery {
  /** One enterprise or several (a principal's); absent: all. */
  enterprise?: string | readonly string[]
  site?: string
  line?: string
  /** Only this kind; absent: both. */
  kind?: EntryKind
  /** Only this carrier (energy entries). */
  carrier?: string
  /** Entries overlapping [start, end), epoch ms. */
  start: number
  end: number
}

/** One revision of an entry, as history shows it. */
export type EntryRevision = Entry & { voided: boolean }

export interface ReviseEntryMeta {
  user: string
  reason: string
  expectedRevision: number
}

/** The key entries must not overlap under: kind, exact scope, carrier and direction. */
function overlapKey(tags: Readonly<Record<string, string>>, kind: string): string {
  const { enterprise, site, line, carrier, direction } = tags
  return JSON.stringify([kind, enterprise, site ?? null, line ?? null, carrier ?? null, direction ?? null])
}

const overlapping = (a: { start: number; end: number }, b: { start: number; end: number }): boolean => a.start < b.end && b.start < a.end

export class EntryBook {
  constructor(
    private readonly store: RecordStore,
    private readonly model: PlantModel,
  ) {}

  /** Writes new entries, all or none: RECORDS_ERR_… naming the field (and index) of every problem. */
  async submit(raws: readonly unknown[], meta: { user: string; reason?: string }): Promise<Entry[]> {
    const { inputs, problems } = checkEntryInputs(raws, this.model)
    if (problems.length > 0) throw entriesError(problems)
    if (inputs.length === 0) throw entriesError([{ field: 'entries', code: 'RECORDS_ERR_SCHEMA', message: 'no entry given' }])
    return this.store.exclusive(async () => {
      const overlaps = await this.overlapProblems(inputs, undefined)
      if (overlaps.length > 0) throw entriesError(overlaps)
      const written: Entry[] = []
      for (const kind of ['energy', 'production'] as const) {
        const ofKind = inputs.filter((e) => e.kind === kind)
        if (ofKind.length === 0) continue
        const ids = await this.store.putMany(ENTRY_KINDS[kind], ofKind.map(bodyOfEntry), meta)
        written.push(
          ...(await this.readBack(
            ENTRY_KINDS[kind],
            ids.map((x) => x.id),
            ofKind,
          )),
        )
      }
      return written
    })
  }

  /** Writes a revision of an entry (same kind); overlap is checked against every other current entry. */
  async revise(id: string, raw: unknown, meta: ReviseEntryMeta): Promise<Entry> {
    const { inputs, problems } = checkEntryInputs([raw], this.model)
    if (problems.length > 0) throw entriesError(problems)
    const input = inputs[0] as EntryInput
    if (ENTRY_KINDS[input.kind] !== kindOfRecordId(id))
      throw entriesError([{ field: 'kind', code: 'RECORDS_ERR_SCHEMA', message: `entry ${id} is not of kind ${input.kind}: a revision keeps the kind` }])
    return this.store.exclusive(async () => {
      const overlaps = await this.overlapProblems([input], id)
      if (overlaps.length > 0) throw entriesError(overlaps)
      await this.store.revise(id, bodyOfEntry(input), meta)
      const [entry] = await this.readBack(ENTRY_KINDS[input.kind], [id], [input])
      return entry ?? this.notFound(id)
    })
  }

  /** Voids an entry: a revision that takes it out of every current answer. */
  async void(id: string, meta: ReviseEntryMeta): Promise<EntryRevision> {
    this.assertEntryId(id)
    await this.store.void(id, meta)
    const [last] = (await this.history(id)).slice(-1)
    return last ?? this.notFound(id)
  }

  /** Current entries (latest revision, void left out) overlapping the range, by start. */
  async list(q: EntryQuery): Promise<Entry[]> {
    const filter: Record<string, string | readonly string[]> = {}
    if (q.enterprise !== undefined) filter.enterprise = q.enterprise
    if (q.site !== undefined) filter.site = q.site
    if (q.line !== undefined) filter.line = q.line
    const kinds: EntryKind[] = q.kind ? [q.kind] : q.carrier !== undefined ? ['energy'] : ['energy', 'production']
    const out: Entry[] = []
    for (const kind of kinds) {
      const f: TagFilter = kind === 'energy' && q.carrier !== undefined ? { ...filter, carrier: q.carrier } : filter
      for (const r of await this.store.current(ENTRY_KINDS[kind], { filter: f, start: q.start, end: q.end })) {
        const e = entryOfRecord(r)
        if (e) out.push(e)
      }
    }
    return out.sort((a, b) => a.start - b.start || a.end - b.end || a.id.localeCompare(b.id))
  }

  /** The latest revision of an entry (void or not); undefined when unknown. */
  async get(id: string): Promise<EntryRevision | undefined> {
    const r = (await this.history(id)).at(-1)
    return r
  }

  /** Every revision of an entry, oldest first, with who, when and why; [] when unknown. */
  async history(id: string): Promise<EntryRevision[]> {
    if (!this.isEntryId(id)) return []
    const out: EntryRevision[] = []
    for (const r of await this.store.history(id)) {
      const e = entryOfRecord(r)
      if (e) out.push({ ...e, voided: r.voided })
    }
    return out
  }

  /** The entries just written, read back by id over the range they cover (a range read, not a scan of every revision). */
  private async readBack(kind: string, ids: readonly string[], inputs: readonly EntryInput[]): Promise<Entry[]> {
    const start = Math.min(...inputs.map((e) => e.start))
    const end = Math.max(...inputs.map((e) => e.end))
    const found = new Map<string, Entry>()
    for (const r of await this.store.current(kind, { filter: { record: ids }, start, end })) {
      const e = entryOfRecord(r)
      if (e) found.set(e.id, e)
    }
    return ids.map((id) => found.get(id) ?? this.notFound(id))
  }

  private isEntryId(id: string): boolean {
    const kind = kindOfRecordId(id)
    return kind === ENTRY_KINDS.energy || kind === ENTRY_KINDS.production
  }

  private assertEntryId(id: string): void {
    if (!this.isEntryId(id)) this.notFound(id)
  }

  private notFound(id: string): never {
    throw new PlantWattError('RECORDS_ERR_NOT_FOUND', `no entry ${id}`, { details: { field: 'id', id } })
  }

  /** The current entries of the inputs' kinds and enterprises over the period they span: one read per kind, not one per input. */
  private async currentAround(inputs: readonly EntryInput[]): Promise<Map<string, StoredRecord[]>> {
    const byKind = new Map<string, StoredRecord[]>()
    for (const kind of new Set(inputs.map((e) => ENTRY_KINDS[e.kind]))) {
      const ofKind = inputs.filter((e) => ENTRY_KINDS[e.kind] === kind)
      const filter = { enterprise: [...new Set(ofKind.map((e) => e.enterprise))] }
      const start = Math.min(...ofKind.map((e) => e.start))
      const end = Math.max(...ofKind.map((e) => e.end))
      byKind.set(kind, await this.store.current(kind, { filter, start, end }))
    }
    return byKind
  }

  /** RECORDS_ERR_OVERLAP for each input overlapping a current entry (other than `revising`) or an earlier input of the batch. */
  private async overlapProblems(inputs: readonly EntryInput[], revising: string | undefined): Promise<EntryProblem[]> {
    const problems: EntryProblem[] = []
    const seen: { key: string; start: number; end: number; index: number }[] = []
    const current = await this.currentAround(inputs)
    for (const [index, input] of inputs.entries()) {
      const kind = ENTRY_KINDS[input.kind]
      const key = overlapKey(bodyOfEntry(input).tags, kind)
      const at = inputs.length > 1 ? { index } : {}
      const other = current.get(kind)?.find((r) => r.id !== revising && overlapKey(r.body.tags, kind) === key && overlapping(r.body, input))
      if (other) {
        const period = `${new Date(other.body.start).toISOString()} – ${new Date(other.body.end).toISOString()}`
        problems.push({
          ...at,
          field: 'start',
          code: 'RECORDS_ERR_OVERLAP',
          otherId: other.id,
          message: `overlaps entry ${other.id} (${period}) of the same scope: revise that one instead`,
        })
        continue
      }
      const twin = seen.find((s) => s.key === key && overlapping(s, input))
      if (twin) problems.push({ ...at, field: 'start', code: 'RECORDS_ERR_OVERLAP', message: `overlaps entry ${twin.index} of this submission` })
      seen.push({ key, start: input.start, end: input.end, index })
    }
    return problems
  }
}
