import type { Me, Plant } from './answers.ts'
import { ApiError, api, setUnauthorizedHandler, showError } from './api.ts'
import { $, el } from './dom.ts'
import { t } from './i18n.ts'
import { can, state } from './state.ts'
import { alertsView } from './views/alerts.ts'
import { alertsReplayView } from './views/alerts-replay.ts'
import { billView } from './views/bill.ts'
import { uploadsView } from './views/uploads.ts'
import { energyView } from './views/energy.ts'
import { entriesView } from './views/entries.ts'
import { meterEventsView } from './views/meter-events.ts'
import { liveView } from './views/live.ts'
import { loginView } from './views/login.ts'
import { provinceView } from './views/province.ts'

// PlantWatt web UI, served by the API at /ui/app.js (bundled from these sources by api/web/bundle.ts).
// This file is the shell: header, sign-in state and routing by URL fragment to one view per file
// under views/. Every answer shape used is the route's response schema (answers.ts); nothing is guessed.

/** The permission each view needs (`/auth/me` permissions). */
const VIEW_PERMISSION: Record<string, string> = {
  live: 'live',
  energy: 'reports',
  alerts: 'alerts',
  province: 'commission',
  entries: 'reports',
  'meter-events': 'reports',
  bill: 'reports',
  uploads: 'reports',
}

function renderShell(): void {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en'
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.getAttribute('data-i18n') ?? '')
  $('lang').textContent = state.lang === 'zh' ? 'EN' : '中文'
  const me = state.me
  const box = $('user')
  box.replaceChildren()
  if (me && me.via !== 'none')
    box.append(el('span', { id: 'me' }, `${me.id} · ${me.enterprise ?? me.role}`), ' ', el('button', { id: 'logout', onclick: logout }, t('logout')))
  // Views the user's role cannot use are not offered.
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) a.hidden = !me || !can(VIEW_PERMISSION[a.getAttribute('data-view') ?? ''] ?? '')
}

function logout(): void {
  state.token = ''
  state.me = null
  state.plant = null
  sessionStorage.removeItem('pw.token')
  if (location.hash === '#/login') void route()
  else location.hash = '#/login'
}

function hashParams(): { parts: string[]; params: URLSearchParams } {
  const [path, query] = location.hash.slice(1).split('?')
  return { parts: (path || '/live').split('/').filter(Boolean), params: new URLSearchParams(query || '') }
}

async function route(): Promise<void> {
  state.epoch++
  for (const id of state.timers) clearInterval(id)
  state.timers = []
  for (const c of state.charts) c.plot.destroy()
  state.charts = []
  renderShell()
  const { parts, params } = hashParams()
  const name = parts[0] || 'live'
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('data-view') === name)
  const main = $('view')
  if (name === 'login' || !state.me) return loginView(main, signedIn)
  try {
    if (name === 'energy') await energyView(main, params)
    else if (name === 'alerts' && parts[1] === 'replay') await alertsReplayView(main, params)
    else if (name === 'alerts') await alertsView(main)
    else if (name === 'province') await provinceView(main, parts)
    else if (name === 'entries') await entriesView(main)
    else if (name === 'meter-events') await meterEventsView(main)
    else if (name === 'bill') await billView(main, params)
    else if (name === 'uploads') await uploadsView(main)
    else await liveView(main, params)
  } catch (err) {
    showError(err)
  }
}

async function signedIn(): Promise<void> {
  await start()
  if (location.hash === '#/live') await route()
  else location.hash = '#/live'
}

async function start(): Promise<void> {
  // Both at once: the first values should not wait for two round trips in a row.
  const [me, plant] = await Promise.allSettled([api<Me>('auth/me'), api<Plant>('plant')])
  state.me = me.status === 'fulfilled' ? me.value : null
  if (me.status === 'rejected' && !(me.reason instanceof ApiError && me.reason.status === 401)) showError(me.reason)
  state.plant = plant.status === 'fulfilled' ? plant.value : null
}

// Token expired or the user was removed: back to the sign-in form.
setUnauthorizedHandler(logout)
$('lang').addEventListener('click', () => {
  state.lang = state.lang === 'zh' ? 'en' : 'zh'
  localStorage.setItem('pw.lang', state.lang)
  void route()
})
window.addEventListener('hashchange', () => void route())
void start().then(route)
