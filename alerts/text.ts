import type { Alert, AlertEventType } from './engine.ts'
import { storageFaultCondition } from './system-text.ts'

/** A short human text of an alert event, in Chinese and English. */
export interface AlertText {
  zh: string
  en: string
}

const num = (v: number | undefined): string => {
  if (v === undefined || !Number.isFinite(v)) return '?'
  const a = Math.abs(v)
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3)
}

function condition(a: Alert): AlertText {
  const q = a.quantity
  switch (a.ruleKind) {
    case 'threshold': {
      const over = a.expectedHigh !== undefined && a.value > a.expectedHigh
      return over
        ? { zh: `${q} = ${num(a.value)}，超过上限 ${num(a.expectedHigh)}`, en: `${q} = ${num(a.value)}, above the limit ${num(a.expectedHigh)}` }
        : { zh: `${q} = ${num(a.value)}，低于下限 ${num(a.expectedLow)}`, en: `${q} = ${num(a.value)}, below the limit ${num(a.expectedLow)}` }
    }
    case 'rate':
      return {
        zh: `${q} 变化过快：每分钟 ${num(a.value)}（限值 ${num(a.threshold)}）`,
        en: `${q} changes too fast: ${num(a.value)} per minute (limit ${num(a.threshold)})`,
      }
    case 'offline':
      return { zh: `设备离线：${num(a.value)} 分钟无数据`, en: `device offline: no data for ${num(a.value)} min` }
    case 'stuck':
      return { zh: `${q} 数值卡死在 ${num(a.value)}`, en: `${q} stuck at ${num(a.value)}` }
    case 'counter':
      // A drop of more than 0.1 % with no meter event recorded (jitter below: analytics/energy.ts backstepFraction).
      return a.threshold !== undefined && a.value < a.threshold * (1 - 0.001)
        ? {
            zh: `计数器 ${q} 不明原因复位：${num(a.threshold)} → ${num(a.value)}（未登记换表或清零）`,
            en: `unexplained reset of counter ${q}: ${num(a.threshold)} → ${num(a.value)} (no meter replacement or reset recorded)`,
          }
        : { zh: `计数器 ${q} 回退：${num(a.threshold)} → ${num(a.value)}`, en: `counter ${q} went backwards: ${num(a.threshold)} → ${num(a.value)}` }
    case 'power_factor':
      return { zh: `功率因数 ${num(a.value)} 低于 ${num(a.threshold)}`, en: `power factor ${num(a.value)} below ${num(a.threshold)}` }
    case 'demand':
      return {
        zh: `本15分钟需量预测 ${num(a.value)} kW，超过合同最大需量 ${num(a.threshold)} kW`,
        en: `15-min demand forecast ${num(a.value)} kW exceeds the contracted ${num(a.threshold)} kW`,
      }
    case 'standby':
      return {
        zh: `待机浪费：停机/班外功率 ${num(a.value)} kW，高于空载水平 ${num(a.threshold)} kW`,
        en: `standby waste: ${num(a.value)} kW while idle or off shift, above the idle level ${num(a.threshold)} kW`,
      }
    case 'anomaly':
      if (a.reason === 'unexpected-start')
        return {
          zh: `异常启动：停机/低负荷（约 ${num(a.threshold)} kW）后升至 ${num(a.value)} kW，历史上此时段很少从停机启动（运行水平自 ${num(a.expectedHigh)} kW 起）`,
          en: `unexpected start: ${num(a.value)} kW after the line was at rest (about ${num(a.threshold)} kW), a start the history rarely shows at this time (running from ${num(a.expectedHigh)} kW)`,
        }
      return {
        zh: `功率异常：${num(a.value)} kW，预期 ${num(a.threshold)} kW（正常范围 ${num(a.expectedLow)}–${num(a.expectedHigh)}）`,
        en: `unusual power: ${num(a.value)} kW, expected ${num(a.threshold)} kW (band ${num(a.expectedLow)}–${num(a.expectedHigh)})`,
      }
    case 'storage-fault':
      return storageFaultCondition(a)
  }
}

/** `[告警] 设备名 (line): condition` — what a notification shows. */
export function describeAlert(a: Alert, event: AlertEventType, deviceName: string, user: string, comment: string): AlertText {
  const where = `${deviceName} (${a.address.line})`
  const c = condition(a)
  const note = comment ? ` — ${comment}` : ''
  switch (event) {
    case 'opened':
      return { zh: `[告警] ${where}：${c.zh}`, en: `[alert] ${where}: ${c.en}` }
    case 'acknowledged':
      return { zh: `[已确认] ${where}：${c.zh}，确认人 ${user}${note}`, en: `[acknowledged] ${where}: ${c.en}, by ${user}${note}` }
    case 'cleared':
      return user
        ? { zh: `[已解除] ${where}：由 ${user} 手动解除${note}`, en: `[resolved] ${where}: resolved by ${user}${note}` }
        : { zh: `[已恢复] ${where}：恢复正常（${num(a.value)}）`, en: `[resolved] ${where}: back to normal (${num(a.value)})` }
  }
}
