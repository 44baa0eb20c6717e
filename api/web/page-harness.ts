import { runInNewContext } from 'node:vm'

/** Just enough DOM to run the page's script in tests: elements, text, attributes. */
class FakeNode {
  readonly children: FakeNode[] = []
  readonly attributes: Record<string, string> = {}
  private text = ''
  constructor(readonly tag: string) {}
  setAttribute(name: string, value: string): void {
    this.attributes[name] = String(value)
  }
  append(...nodes: (FakeNode | string)[]): void {
    for (const n of nodes) this.children.push(typeof n === 'string' ? textNode(n) : n)
  }
  replaceChildren(...nodes: FakeNode[]): void {
    this.children.length = 0
    this.append(...nodes)
  }
  get textContent(): string {
    return this.tag === '#text' ? this.text : this.children.map((c) => c.textContent).join('')
  }
  set textContent(value: string) {
    this.children.length = 0
    this.text = value
    if (this.tag !== '#text') this.children.push(textNode(value))
  }
  /** Descendants with this tag, depth first. */
  all(tag: string): FakeNode[] {
    return this.children.flatMap((c) => [...(c.tag === tag ? [c] : []), ...c.all(tag)])
  }
}

function textNode(value: string): FakeNode {
  const n = new FakeNode('#text')
  n.textContent = value
  return n
}

export interface RenderedPage {
  /** Cells' text per table row. */
  rows: string[][]
  /** Table rows as nodes, to look at classes and titles. */
  rowNodes: FakeNode[]
  error: string
  /** URLs the script fetched, in order. */
  fetched: string[]
}

/**
 * Runs the inline script of `html` against `fetchJson` until it has rendered once or shown an error. Timers are
 * recorded, not run: one render is one poll.
 */
export async function renderPage(html: string, fetchJson: (url: string) => Promise<{ status: number; body: unknown }>): Promise<RenderedPage> {
  const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1]
  if (script === undefined) throw new Error('page has no inline script')
  const byId = new Map(['rows', 'updated', 'error'].map((id) => [id, new FakeNode(id === 'rows' ? 'tbody' : 'span')]))
  const fetched: string[] = []
  let rendered = false
  const rows = byId.get('rows') as FakeNode
  const replace = rows.replaceChildren.bind(rows)
  rows.replaceChildren = (...nodes: FakeNode[]) => {
    rendered = true
    replace(...nodes)
  }
  const sandbox = {
    Node: FakeNode,
    document: {
      createElement: (tag: string) => new FakeNode(tag),
      createTextNode: textNode,
      getElementById: (id: string) => byId.get(id) ?? null,
    },
    fetch: async (url: string) => {
      fetched.push(url)
      const { status, body } = await fetchJson(url)
      return { ok: status >= 200 && status < 300, status, json: async () => body }
    },
    setTimeout: () => 0,
    setInterval: () => 0,
    Date,
    Map,
    Error,
    String,
    Object,
    Math,
  }
  runInNewContext(script, sandbox)
  const errorNode = byId.get('error') as FakeNode
  for (let i = 0; i < 200 && !rendered && errorNode.textContent === ''; i++) await new Promise((r) => setImmediate(r))
  if (!rendered && errorNode.textContent === '') throw new Error('page neither rendered nor reported an error')
  const trs = rows.all('tr')
  return { rows: trs.map((tr) => tr.children.map((td) => td.textContent)), rowNodes: trs, error: errorNode.textContent, fetched }
}
