import { isPlantWattError } from '../../core/errors.ts'

/** Why writes fail now: coded (STORAGE_ERR_FULL, STORAGE_ERR_READONLY, STORAGE_ERR_CORRUPT, STORAGE_ERR_IO, STORAGE_ERR_WRITE), with when it began. */
export interface StoreFault {
  code: string
  message: string
  /** First failure of this run of failures, epoch ms. */
  since: number
}

/** Codes that say the store itself cannot write (not a bad batch, not a closed store). */
const FAULT_CODES = new Set([
  'STORAGE_ERR_FULL',
  'STORAGE_ERR_READONLY',
  'STORAGE_ERR_CORRUPT',
  'STORAGE_ERR_IO',
  'STORAGE_ERR_WRITE',
  'STORAGE_ERR_UNAVAILABLE',
])

/** Remembers the storage fault of the last write until a write succeeds again. */
export class FaultTracker {
  private fault: StoreFault | undefined

  run<T>(write: () => T): T {
    try {
      const out = write()
      this.fault = undefined
      return out
    } catch (err) {
      if (isPlantWattError(err) && FAULT_CODES.has(err.code)) {
        this.fault = { code: err.code, message: err.message, since: this.fault?.since ?? Date.now() }
      }
      throw err
    }
  }

  current(): StoreFault | undefined {
    return this.fault ? { ...this.fault } : undefined
  }
}
