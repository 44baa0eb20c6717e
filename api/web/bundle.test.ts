import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import { bundleUi, uiBundle } from './bundle.ts'

describe('bundleUi (the web UI as the API serves it)', () => {
  it('bundles api/web/src into one self-contained script, quickly', async () => {
    await bundleUi() // esbuild's service starts once per process: measure a build, not the start
    const started = performance.now()
    const js = await bundleUi()
    const ms = performance.now() - started
    console.log(`web UI bundle: ${js.length} bytes in ${ms.toFixed(0)} ms`)
    // ~20-40 ms here; the bound leaves room for a loaded 2-core machine.
    expect(ms).toBeLessThan(1_000)
    expect(js).not.toMatch(/^\s*(import|export)\b/m)
    expect(js).not.toMatch(/typebox|node:/)
    // Labels as UTF-8, not \u escapes; the API base and the live route.
    expect(js).toContain('有功功率')
    expect(js).toContain('"/api/v1"')
    expect(js).toContain('live?')
  })

  it('is built once per process', async () => {
    const first = uiBundle()
    expect(uiBundle()).toBe(first)
    expect(await first).toContain('pw.lang')
  })

  it('fails with API_ERR_UI_BUNDLE naming esbuild when it is not installed', async () => {
    const missing = Object.assign(new Error("Cannot find package 'esbuild'"), { code: 'ERR_MODULE_NOT_FOUND' })
    const err: unknown = await bundleUi({ loadEsbuild: () => Promise.reject(missing) }).catch((e: unknown) => e)
    expect(isPlantWattError(err, 'API_ERR_UI_BUNDLE')).toBe(true)
    expect((err as Error).message).toMatch(/esbuild.*npm install/)
    expect((err as Error).cause).toBe(missing)
  })
})
