/**
 * Alerts: rules and anomaly detection on the live stream, a lifecycle with acknowledgement, and
 * notifications (MQTT `alert` channel, webhooks, the API's live stream). See alerts/README.md.
 */
export {
  AlertsConfigSchema,
  RECOMMENDED_RULES,
  RuleSchema,
  WebhookSchema,
  RULE_KINDS,
  SEVERITIES,
  validateAlertsConfig,
  parseAlertsConfig,
  type AlertsConfig,
  type ResolvedRule,
  type RuleConfig,
  type RuleKind,
  type Severity,
  type WebhookConfig,
} from './rules.ts'
export {
  AlertEngine,
  ALERT_EVENTS,
  ALERT_STATES,
  alertId,
  openedAtOfId,
  type Alert,
  type AlertEventType,
  type AlertSample,
  type AlertState,
  type AlertTransition,
  type EngineOptions,
} from './engine.ts'
export {
  ALERT_EVENT_KIND,
  foldAlertEvents,
  loadAlert,
  loadAlerts,
  manualEvent,
  notificationOf,
  transitionToEvent,
  type AlertNotification,
  type AlertRecord,
} from './events.ts'
export { learnBaselines, fitDeviceBaseline, type BaselineBook, type DeviceBaseline } from './baseline.ts'
export { startAlertService, type AlertServiceOptions, type AlertServiceStats, type RunningAlertService } from './service.ts'
export { WebhookSender, type WebhookStats } from './notify.ts'
