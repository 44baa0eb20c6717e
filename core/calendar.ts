import Type from 'typebox'
import { ID_PATTERN } from './topic.ts'

/**
 * The schema of a plant's working calendar (alerts/calendar.ts WorkCalendar gives it meaning): in the
 * plant model per enterprise, and per alert rule where one rule needs its own.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
export type Weekday = (typeof WEEKDAYS)[number]
export const HOLIDAY_SOURCES = ['none', 'cn'] as const

const LocalDate = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'local date YYYY-MM-DD' })
const Weekdays = (description: string, all: boolean) =>
  Type.Array(Type.Enum(WEEKDAYS), { uniqueItems: true, description, ...(all ? { default: [...WEEKDAYS] } : {}) })

export const CalendarSchema = Type.Object(
  {
    workdays: Weekdays('weekdays the plant works (default every day: a plant without a calendar is judged by its week alone)', true),
    lines: Type.Record(Type.String({ pattern: ID_PATTERN }), Weekdays('weekdays this line works', false), {
      default: {},
      description: 'line id → its own weekdays',
    }),
    holidays: Type.Enum(HOLIDAY_SOURCES, {
      default: 'none',
      description: "cn: China's public holidays are days off and adjusted working days (调休) working days (chinese-days)",
    }),
    nonWorkingDays: Type.Array(LocalDate, { default: [], description: "the plant's own days off (shutdowns, local holidays)" }),
    workingDays: Type.Array(LocalDate, { default: [], description: 'days worked although the schedule says off' }),
  },
  { additionalProperties: false, default: {}, description: 'working calendar: the detector learns working days and days off apart' },
)
export type CalendarConfig = Type.Static<typeof CalendarSchema>
