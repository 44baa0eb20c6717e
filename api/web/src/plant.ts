import type { PlantEnterprise, PlantLine, PlantSite } from './answers.ts'
import { el } from './dom.ts'
import { t } from './i18n.ts'
import { state } from './state.ts'

/** A line of the plant with its enterprise and site. */
export interface LineOfPlant extends PlantLine {
  enterprise: PlantEnterprise
  site: PlantSite
}

/** Every line the user may see (`/plant` is already cut to the user's scope). */
export function allLines(): LineOfPlant[] {
  const out: LineOfPlant[] = []
  for (const e of state.plant?.enterprises ?? []) for (const s of e.sites) for (const l of s.lines) out.push({ ...l, enterprise: e, site: s })
  return out
}

/** Options of a scope select: enterprises, their sites and lines, indented. */
export function scopeOptions(selected: string): HTMLOptionElement[] {
  const opts: HTMLOptionElement[] = []
  for (const e of state.plant?.enterprises ?? []) {
    opts.push(el('option', { value: e.id, selected: selected === e.id }, e.name))
    for (const s of e.sites) {
      opts.push(el('option', { value: `${e.id}/${s.id}`, selected: selected === `${e.id}/${s.id}` }, `· ${s.name}`))
      for (const l of s.lines) opts.push(el('option', { value: l.path, selected: selected === l.path }, `· · ${l.name}`))
    }
  }
  return opts
}

/** A key figure with its label, value (id) and a sub line (id-sub), filled in later. */
export const kpi = (id: string, label: string): HTMLDivElement =>
  el('div', { class: 'kpi' }, el('div', { class: 'label' }, t(label)), el('div', { class: 'value', id }, '—'), el('div', { class: 'sub', id: `${id}-sub` }))
