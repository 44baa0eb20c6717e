import Type from 'typebox'

// The API answers as the UI reads them: each schema holds the fields the page uses, with the types
// of the route's response schema (api/routes/*.ts). The page imports only the types (`import type`),
// so neither TypeBox nor these schemas reach the bundle; `api/web/answers.test.ts` checks every
// schema here against the API's OpenAPI document, so a changed route fails a test, not the page.

const Nullable = <T extends Type.TSchema>(t: T) => Type.Union([t, Type.Null()])

/** GET /auth/me (api/routes/auth.ts MeSchema). */
export const MeAnswer = Type.Object({
  id: Type.String(),
  role: Type.String(),
  enterprise: Nullable(Type.String()),
  via: Type.String(),
  permissions: Type.Array(Type.String()),
})
export type Me = Type.Static<typeof MeAnswer>

/** POST /auth/login (TokenSchema). */
export const TokenAnswer = Type.Object({ token: Type.String() })

const Named = { id: Type.String(), name: Type.String() }
const PlantDevice = Type.Object({ ...Named, kind: Type.String() })
const PlantLine = Type.Object({ ...Named, path: Type.String(), mainMeter: Nullable(Type.String()), devices: Type.Array(PlantDevice) })
const PlantSite = Type.Object({ ...Named, timezone: Type.String(), lines: Type.Array(PlantLine) })
const PlantEnterprise = Type.Object({ ...Named, sites: Type.Array(PlantSite) })

/** GET /plant (api/routes/plant.ts PlantTreeSchema): the navigation. */
export const PlantAnswer = Type.Object({ timezone: Type.String(), enterprises: Type.Array(PlantEnterprise) })
export type Plant = Type.Static<typeof PlantAnswer>
export type PlantEnterprise = Type.Static<typeof PlantEnterprise>
export type PlantSite = Type.Static<typeof PlantSite>
export type PlantLine = Type.Static<typeof PlantLine>

const LiveDevice = Type.Object({
  enterprise: Type.String(),
  site: Type.String(),
  line: Type.String(),
  device: Type.String(),
  name: Type.String(),
  ageMs: Type.Integer(),
  online: Type.Boolean(),
  values: Type.Record(Type.String(), Type.Number()),
  quality: Type.Record(Type.String(), Type.String()),
})
/** GET /live (api/routes/live.ts LiveSchema). */
export const LiveAnswer = Type.Object({ ts: Type.Integer(), devices: Type.Array(LiveDevice) })
export type Live = Type.Static<typeof LiveAnswer>
export type LiveDevice = Type.Static<typeof LiveDevice>

/** GET /series (api/routes/series.ts SeriesSchema). */
export const SeriesAnswer = Type.Object({ points: Type.Array(Type.Object({ ts: Type.Integer(), value: Type.Number() })) })
export type Series = Type.Static<typeof SeriesAnswer>

/** GET /energy (api/routes/reports.ts EnergyResponse). */
export const EnergyAnswer = Type.Object({
  energyKwh: Type.Number(),
  rows: Type.Array(Type.Object({ bucket: Type.String(), energyKwh: Type.Number(), coverage: Type.Number() })),
})
export type Energy = Type.Static<typeof EnergyAnswer>

const CostRow = Type.Object({
  bucket: Type.String(),
  period: Type.String(),
  energyKwh: Type.Number(),
  pricePerKwh: Nullable(Type.Number()),
  cost: Type.Number(),
})
/** GET /cost (CostResponse). */
export const CostAnswer = Type.Object({ totalCost: Type.Number(), tariffs: Type.Array(Type.Object({ id: Type.String() })), rows: Type.Array(CostRow) })
export type Cost = Type.Static<typeof CostAnswer>
export type CostRow = Type.Static<typeof CostRow>

/** GET /carbon (CarbonResponse). */
export const CarbonAnswer = Type.Object({
  kgCo2: Type.Number(),
  factors: Type.Array(Type.Object({ region: Type.String(), year: Type.Integer(), kgCo2PerKwh: Type.Number() })),
  rows: Type.Array(Type.Object({ bucket: Type.String(), kgCo2: Type.Number() })),
})
export type Carbon = Type.Static<typeof CarbonAnswer>

const SecRow = Type.Object({
  line: Type.String(),
  product: Type.String(),
  unit: Type.String(),
  output: Type.Number(),
  value: Nullable(Type.Number()),
  benchmarkUnit: Nullable(Type.String()),
  grade: Nullable(Type.String()),
  benchmark: Nullable(Type.Number()),
  baseline: Nullable(Type.Number()),
  gapToBenchmarkPct: Nullable(Type.Number()),
  gapToBaselinePct: Nullable(Type.Number()),
  gbLevel: Nullable(Type.String()),
  note: Nullable(Type.String()),
  indicators: Type.Array(
    Type.Object({
      product: Type.String(),
      indicator: Type.String(),
      unit: Type.String(),
      standard: Nullable(Type.String()),
      benchmarkVersion: Type.String(),
      basis: Type.String(),
      value: Nullable(Type.Number()),
      ndrc: Nullable(
        Type.Object({
          level: Type.String(),
          labelZh: Type.String(),
          benchmark: Type.Number(),
          baseline: Type.Number(),
          gapToBenchmarkPct: Nullable(Type.Number()),
          gapToBaselinePct: Nullable(Type.Number()),
        }),
      ),
      gb: Nullable(Type.Object({ level: Nullable(Type.Integer()), labelZh: Type.String(), level3: Type.Number(), standard: Nullable(Type.String()) })),
      ungraded: Nullable(Type.Object({ code: Type.String(), reason: Type.String() })),
      warnings: Type.Array(Type.String()),
    }),
  ),
})
/** GET /sec (SecResponse). */
export const SecAnswer = Type.Object({ rows: Type.Array(SecRow) })
export type Sec = Type.Static<typeof SecAnswer>
export type SecRow = Type.Static<typeof SecRow>

/** GET /baselines (api/routes/efficiency.ts BaselinesSchema): revisions, oldest first. */
export const BaselinesAnswer = Type.Object({
  rows: Type.Array(Type.Object({ revision: Type.Integer(), effectiveFrom: Type.Integer(), r2: Type.Number(), variables: Type.String() })),
})
export type Baselines = Type.Static<typeof BaselinesAnswer>

const SavingsRow = Type.Object({
  period: Type.String(),
  production: Nullable(Type.Number()),
  actual: Type.Number(),
  predicted: Type.Number(),
  savings: Type.Number(),
  cusum: Type.Number(),
  enpi: Nullable(Type.Number()),
  coverage: Type.Number(),
})
/** GET /savings (SavingsSchema). */
export const SavingsAnswer = Type.Object({
  totalSavings: Type.Number(),
  savingsShare: Nullable(Type.Number()),
  modelValid: Type.Boolean(),
  modelReasons: Type.Array(Type.String()),
  rows: Type.Array(SavingsRow),
})
export type Savings = Type.Static<typeof SavingsAnswer>
export type SavingsRow = Type.Static<typeof SavingsRow>

const AlertRow = Type.Object({
  id: Type.String(),
  state: Type.String(),
  line: Type.String(),
  device: Type.String(),
  rule: Type.String(),
  severity: Type.String(),
  value: Nullable(Type.Number()),
  threshold: Nullable(Type.Number()),
  openedAt: Type.Integer(),
  acknowledgedBy: Nullable(Type.String()),
  comment: Nullable(Type.String()),
  resolvedAt: Nullable(Type.Integer()),
  message: Type.String(),
  messageZh: Type.String(),
  silenceId: Nullable(Type.String()),
})
/** GET /alerts (api/routes/alerts.ts AlertRowSchema rows). */
export const AlertsAnswer = Type.Object({ rows: Type.Array(AlertRow) })
export type Alerts = Type.Static<typeof AlertsAnswer>
export type AlertRow = Type.Static<typeof AlertRow>

const AlertEvent = Type.Object({
  ts: Type.Integer(),
  event: Type.String(),
  user: Type.String(),
  comment: Type.String(),
  value: Nullable(Type.Number()),
  message: Type.String(),
  messageZh: Type.String(),
})
/** GET /alerts/{id}: the alert and its events (HistoryRowSchema). */
export const AlertDetailAnswer = Type.Object({ alert: AlertRow, rows: Type.Array(AlertEvent) })
export type AlertDetail = Type.Static<typeof AlertDetailAnswer>
export type AlertEvent = Type.Static<typeof AlertEvent>

const ReplayAlert = Type.Object({
  id: Type.String(),
  rule: Type.String(),
  ruleKind: Type.String(),
  severity: Type.String(),
  line: Type.String(),
  device: Type.String(),
  state: Type.String(),
  openedAt: Type.Integer(),
  resolvedAt: Nullable(Type.Integer()),
  value: Type.Number(),
  valueUnit: Type.String(),
  threshold: Nullable(Type.Number()),
  thresholdUnit: Type.String(),
  expectedLow: Nullable(Type.Number()),
  expectedHigh: Nullable(Type.Number()),
})
/** POST /alerts/replay (api/routes/alerts-replay.ts ReplayResponseSchema): the backtest. */
export const ReplayAnswer = Type.Object({
  from: Type.Integer(),
  to: Type.Integer(),
  learnUntil: Type.Integer(),
  rulesBasis: Type.String(),
  timezone: Type.String(),
  valueBasis: Type.String(),
  devices: Type.Integer(),
  deviceWeeks: Type.Number(),
  alertsPerDeviceWeek: Type.Number(),
  samples: Type.Integer(),
  baselines: Type.Integer(),
  relearned: Type.Integer(),
  byRule: Type.Record(Type.String(), Type.Object({ kind: Type.String(), alerts: Type.Integer(), devices: Type.Integer() })),
  problems: Type.Array(Type.Object({ code: Type.String(), device: Type.String(), message: Type.String() })),
  alerts: Type.Array(ReplayAlert),
})
export type Replay = Type.Static<typeof ReplayAnswer>
export type ReplayAlertRow = Type.Static<typeof ReplayAlert>

const SilenceRow = Type.Object({
  id: Type.String(),
  state: Type.String(),
  enterprise: Type.String(),
  site: Nullable(Type.String()),
  line: Nullable(Type.String()),
  device: Nullable(Type.String()),
  start: Type.Integer(),
  end: Type.Integer(),
  reason: Type.String(),
  createdBy: Type.String(),
})
/** GET /silences (api/routes/alerts.ts SilenceRowSchema rows). */
export const SilencesAnswer = Type.Object({ rows: Type.Array(SilenceRow) })
export type Silences = Type.Static<typeof SilencesAnswer>
export type SilenceRow = Type.Static<typeof SilenceRow>

const EntryRow = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  revision: Type.Integer(),
  enterprise: Type.String(),
  site: Nullable(Type.String()),
  line: Nullable(Type.String()),
  carrier: Nullable(Type.String()),
  direction: Nullable(Type.String()),
  amount: Type.Number(),
  unit: Type.String(),
  start: Type.Integer(),
  end: Type.Integer(),
  ncvKjPerUnit: Nullable(Type.Number()),
  source: Type.String(),
  enteredBy: Type.String(),
  enteredAt: Type.Integer(),
  reason: Nullable(Type.String()),
})
/** GET /entries (api/routes/entries.ts EntryRowSchema rows). */
export const EntriesAnswer = Type.Object({ rows: Type.Array(EntryRow) })
export type Entries = Type.Static<typeof EntriesAnswer>
export type EntryRow = Type.Static<typeof EntryRow>
/** GET /entries/{id}/history (RevisionRowSchema rows). */
export const EntryHistoryAnswer = Type.Object({ id: Type.String(), rows: Type.Array(Type.Object({ ...EntryRow.properties, voided: Type.Boolean() })) })
export type EntryHistory = Type.Static<typeof EntryHistoryAnswer>

const MeterEventRow = Type.Object({
  id: Type.String(),
  revision: Type.Integer(),
  type: Type.String(),
  enterprise: Type.String(),
  site: Type.String(),
  line: Type.String(),
  device: Type.String(),
  quantity: Type.String(),
  unit: Type.String(),
  ts: Type.Integer(),
  oldFinalReading: Nullable(Type.Number()),
  newStartReading: Nullable(Type.Number()),
  newModulus: Nullable(Type.Number()),
  oldRatio: Nullable(Type.Number()),
  newRatio: Nullable(Type.Number()),
  readingAtChange: Nullable(Type.Number()),
  valueAfter: Nullable(Type.Number()),
  valueBefore: Nullable(Type.Number()),
  enteredBy: Type.String(),
  enteredAt: Type.Integer(),
  reason: Nullable(Type.String()),
})
/** GET /meter-events (api/routes/meter-events.ts EventRowSchema rows). */
export const MeterEventsAnswer = Type.Object({ rows: Type.Array(MeterEventRow) })
export type MeterEvents = Type.Static<typeof MeterEventsAnswer>
export type MeterEventRow = Type.Static<typeof MeterEventRow>
/** GET /meter-events/{id}/history (RevisionRowSchema rows). */
export const MeterEventHistoryAnswer = Type.Object({
  id: Type.String(),
  rows: Type.Array(Type.Object({ ...MeterEventRow.properties, voided: Type.Boolean() })),
})
export type MeterEventHistory = Type.Static<typeof MeterEventHistoryAnswer>

/** GET /commission/overview (api/routes/commission.ts OverviewSchema). */
export const OverviewAnswer = Type.Object({
  period: Type.Object({ start: Type.Integer(), end: Type.Integer(), timezone: Type.String() }),
  progress: Type.Object({ target: Type.Integer(), smartFactories: Type.Integer(), digitalWorkshops: Type.Integer(), qualified: Type.Integer() }),
  ncRate: Nullable(Type.Number()),
  networkingRate: Nullable(Type.Number()),
  energyTce: Type.Number(),
  openAlerts: Type.Integer(),
})
export type Overview = Type.Static<typeof OverviewAnswer>

const EnterpriseRow = Type.Object({
  enterprise: Type.String(),
  name: Type.String(),
  region: Type.String(),
  ncRate: Nullable(Type.Number()),
  networkingRate: Nullable(Type.Number()),
  gradedProducts: Type.Integer(),
  benchmarkGrades: Type.Integer(),
  compliantGrades: Type.Integer(),
  belowBaselineGrades: Type.Integer(),
  worstGapToBaselinePct: Nullable(Type.Number()),
  energyTce: Type.Number(),
  openAlerts: Type.Integer(),
  qualifiedAs: Type.String(),
  score: Type.Number(),
  rank: Type.Integer(),
})
/** GET /commission/enterprises (EnterprisesSchema). */
export const EnterprisesAnswer = Type.Object({ rows: Type.Array(EnterpriseRow) })
export type Enterprises = Type.Static<typeof EnterprisesAnswer>
export type EnterpriseRow = Type.Static<typeof EnterpriseRow>

const EnterpriseLine = Type.Object({
  lineName: Type.String(),
  productName: Type.String(),
  output: Type.Number(),
  sec: Nullable(Type.Number()),
  secUnit: Type.String(),
  grade: Nullable(Type.String()),
  benchmark: Nullable(Type.Number()),
  baseline: Nullable(Type.Number()),
  gapToBenchmarkPct: Nullable(Type.Number()),
  gapToBaselinePct: Nullable(Type.Number()),
  basis: Nullable(Type.String()),
  note: Nullable(Type.String()),
})
const Equipment = Type.Object({
  name: Type.String(),
  line: Type.String(),
  kind: Type.String(),
  ncCapable: Type.Boolean(),
  networked: Type.Boolean(),
  lastSeen: Nullable(Type.Integer()),
})
/** GET /commission/enterprises/{id} (DetailSchema). */
export const EnterpriseAnswer = Type.Object({
  name: Type.String(),
  rank: Type.Integer(),
  score: Type.Number(),
  qualifiedAs: Type.String(),
  ncRate: Nullable(Type.Number()),
  networkingRate: Nullable(Type.Number()),
  energyTce: Type.Number(),
  openAlerts: Type.Integer(),
  rules: Type.Array(
    Type.Object({ rule: Type.String(), conditions: Type.Array(Type.Object({ condition: Type.String(), passed: Type.Boolean(), reason: Type.String() })) }),
  ),
  lines: Type.Array(EnterpriseLine),
  equipment: Type.Array(Equipment),
})
export type Enterprise = Type.Static<typeof EnterpriseAnswer>

/** Every answer schema above with the route and method it describes: what answers.test.ts checks. */
/** GET /bill (api/routes/bill.ts BillResponse): the bill check of a supply account. */
const BillPeak = Nullable(Type.Object({ demandKw: Type.Number(), start: Type.Integer() }))
const BillRowAnswer = Type.Object({
  section: Type.String(),
  item: Type.String(),
  quantity: Nullable(Type.Number()),
  unit: Type.String(),
  price: Nullable(Type.Number()),
  amount: Nullable(Type.Number()),
  basis: Type.String(),
})
export const BillAnswer = Type.Object({
  account: Type.String(),
  month: Type.String(),
  status: Type.String(),
  currency: Type.String(),
  tariff: Type.Object({ id: Type.String(), version: Type.String() }),
  energyKwh: Type.Number(),
  totalCost: Type.Number(),
  demand: Type.Object({ sliding: BillPeak, fixed: BillPeak }),
  powerFactor: Nullable(Type.Object({ powerFactorRounded: Type.Number(), percent: Type.Number(), adjustment: Type.Number() })),
  rows: Type.Array(BillRowAnswer),
  warnings: Type.Array(Type.String()),
})
export type Bill = Type.Static<typeof BillAnswer>

const UploadRowAnswer = Type.Object({
  indicator: Type.String(),
  subject: Type.String(),
  carrier: Nullable(Type.String()),
  period: Type.String(),
  start: Type.String(),
  revision: Type.Integer(),
  value: Type.Number(),
  unit: Type.String(),
  attempts: Type.Integer(),
  reason: Nullable(Type.String()),
  receipt: Nullable(Type.String()),
})
export const UploadsAnswer = Type.Object({
  enterprises: Type.Array(
    Type.Object({
      enterprise: Type.String(),
      counts: Type.Object({ pending: Type.Integer(), acked: Type.Integer(), rejected: Type.Integer() }),
      rejected: Type.Array(UploadRowAnswer),
      pending: Type.Array(UploadRowAnswer),
      uploaded: Type.Array(UploadRowAnswer),
    }),
  ),
})
export type Uploads = Type.Static<typeof UploadsAnswer>
export type UploadRow = Type.Static<typeof UploadRowAnswer>
export type BillRow = Type.Static<typeof BillRowAnswer>

export const ANSWERS = [
  { method: 'get', path: '/api/v1/auth/me', schema: MeAnswer },
  { method: 'post', path: '/api/v1/auth/login', schema: TokenAnswer },
  { method: 'get', path: '/api/v1/plant', schema: PlantAnswer },
  { method: 'get', path: '/api/v1/live', schema: LiveAnswer },
  { method: 'get', path: '/api/v1/series', schema: SeriesAnswer },
  { method: 'get', path: '/api/v1/energy', schema: EnergyAnswer },
  { method: 'get', path: '/api/v1/cost', schema: CostAnswer },
  { method: 'get', path: '/api/v1/bill', schema: BillAnswer },
  { method: 'get', path: '/api/v1/uploads', schema: UploadsAnswer },
  { method: 'get', path: '/api/v1/carbon', schema: CarbonAnswer },
  { method: 'get', path: '/api/v1/sec', schema: SecAnswer },
  { method: 'get', path: '/api/v1/baselines', schema: BaselinesAnswer },
  { method: 'get', path: '/api/v1/savings', schema: SavingsAnswer },
  { method: 'get', path: '/api/v1/alerts', schema: AlertsAnswer },
  { method: 'get', path: '/api/v1/alerts/{id}', schema: AlertDetailAnswer },
  { method: 'post', path: '/api/v1/alerts/replay', schema: ReplayAnswer },
  { method: 'get', path: '/api/v1/silences', schema: SilencesAnswer },
  { method: 'get', path: '/api/v1/entries', schema: EntriesAnswer },
  { method: 'get', path: '/api/v1/entries/{id}/history', schema: EntryHistoryAnswer },
  { method: 'get', path: '/api/v1/meter-events', schema: MeterEventsAnswer },
  { method: 'get', path: '/api/v1/meter-events/{id}/history', schema: MeterEventHistoryAnswer },
  { method: 'get', path: '/api/v1/commission/overview', schema: OverviewAnswer },
  { method: 'get', path: '/api/v1/commission/enterprises', schema: EnterprisesAnswer },
  { method: 'get', path: '/api/v1/commission/enterprises/{enterprise}', schema: EnterpriseAnswer },
] as const
