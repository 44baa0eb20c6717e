/** What `el` appends: nodes, text (numbers as text); null, undefined and false are left out; arrays are flattened. */
export type Child = Node | string | number | null | undefined | false | readonly Child[]

/** Attributes of `el`: `on<event>` functions become listeners, true an empty attribute; null, undefined and false are left out. */
export type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => unknown)>

/** An element with attributes and children. Text only: names come from configuration and must never be parsed as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (typeof v === 'function') {
      if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    } else node.setAttribute(k, v === true ? '' : String(v))
  }
  append(node, children)
  return node
}

function append(node: Node & ParentNode, children: readonly Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue
    if (Array.isArray(c)) append(node, c)
    else node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}

/** The element with this id; throws when the page has none (the view changed under an async step). */
export function $(id: string): HTMLElement {
  const node = document.getElementById(id)
  if (!node) throw new Error(`no element #${id} on the page`)
  return node
}
