import type uPlot from 'uplot'
import type { Me, Plant } from './answers.ts'
import type { Lang } from './dict.ts'

/** A chart drawn in the current view, with the box it follows when the window is resized. */
export interface ViewChart {
  plot: uPlot
  box: HTMLElement
}

/** What the page knows: the signed-in user, the plant, and what the current view started. */
export interface PageState {
  lang: Lang
  /** Login token (sessionStorage `pw.token`); '' when none. */
  token: string
  me: Me | null
  plant: Plant | null
  /** Intervals started by the current view, cleared by the next route(). */
  timers: number[]
  /** Charts of the current view, destroyed by the next route(). */
  charts: ViewChart[]
  /** Bumped by every route(): a view that awaited across a navigation stops drawing. */
  epoch: number
}

/** The one state of the page (a browser page is one user in one tab). */
export const state: PageState = {
  lang: localStorage.getItem('pw.lang') === 'en' ? 'en' : 'zh',
  token: sessionStorage.getItem('pw.token') || '',
  me: null,
  plant: null,
  timers: [],
  charts: [],
  epoch: 0,
}

/** True when the signed-in user's role has the permission (`/auth/me` permissions). */
export const can = (permission: string): boolean => !!state.me && state.me.permissions.includes(permission)

/** Runs `fn` every `ms` until the view changes. */
export function every(ms: number, fn: () => void): void {
  state.timers.push(window.setInterval(fn, ms))
}
