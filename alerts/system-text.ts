/**
 * System alerts: raised by the alert service about PlantWatt itself, not by a rule about a device.
 * Their kinds, the address they are raised on, and their text in both languages (text.ts asks here
 * for the condition of a system alert). No imports: engine.ts, events.ts and text.ts import this.
 */

/** Kinds of system alerts (the `ruleKind`, and the `rule` id, of their alerts). */
export const SYSTEM_ALERT_KINDS = ['storage-fault'] as const
export type SystemAlertKind = (typeof SYSTEM_ALERT_KINDS)[number]

/** The enterprise id of system alerts' addresses: `system/storage/ingest/{ingest instance}`. */
export const SYSTEM_ENTERPRISE = 'system'

/** What a store error code means, in both languages (storage/embedded/faults.ts, storage/README.md). */
const STORE_ERRORS: Readonly<Record<string, { zh: string; en: string }>> = {
  STORAGE_ERR_FULL: { zh: '磁盘已满', en: 'disk full' },
  STORAGE_ERR_READONLY: { zh: '数据库只读', en: 'database read-only' },
  STORAGE_ERR_CORRUPT: { zh: '数据库或 WAL 已损坏', en: 'database or WAL corrupt' },
  STORAGE_ERR_IO: { zh: '存储读写错误', en: 'storage I/O error' },
}

/** The meaning of a store error code; a code not listed reads as a failing write. */
export function storeErrorReason(code: string): { zh: string; en: string } {
  return STORE_ERRORS[code] ?? { zh: '存储写入失败', en: 'store writes fail' }
}

/** True for the kind of a system alert. */
export function isSystemAlertKind(kind: string): kind is SystemAlertKind {
  return (SYSTEM_ALERT_KINDS as readonly string[]).includes(kind)
}

/**
 * The condition of a storage-fault alert, for every event's text (the alert's `quantity` carries
 * the store's error code, `value` the minutes since the fault began).
 */
export function storageFaultCondition(a: { quantity: string; value: number; address: { device: string } }): { zh: string; en: string } {
  const r = storeErrorReason(a.quantity)
  return {
    zh: `存储故障 ${a.quantity}（${r.zh}）：采集服务 ${a.address.device} 暂停确认数据，数据保留在消息代理和边缘缓存中`,
    en: `storage fault ${a.quantity} (${r.en}): ingest ${a.address.device} stopped acknowledging; the broker and the edge buffers hold the data`,
  }
}
