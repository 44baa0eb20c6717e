import nodemailer, { type Transporter } from 'nodemailer'
import { NotifyError, renderMessage, type ChannelLanguage, type NotifyChannel, type NotifyMessage } from './channel.ts'

/**
 * E-mail over SMTP (nodemailer). One message per notification: subject = the rendered title, plain
 * text body (UTF-8, base64 transfer encoding). `security`: `tls` = implicit TLS (port 465),
 * `starttls` = upgrade required (587), `none` = plain (a relay on the plant network; tests).
 * A new connection per message (no pool): notifications are few, and a broken server is not kept.
 */
export interface EmailChannelOptions {
  id: string
  host: string
  port: number
  security: 'tls' | 'starttls' | 'none'
  /** SMTP AUTH; undefined = none. */
  auth: { user: string; pass: string } | undefined
  from: string
  to: readonly string[]
  language: ChannelLanguage
  timezone: string
  /** Connect, greeting and socket timeouts, ms. */
  timeoutMs: number
}

interface SmtpFailure {
  code?: string
  responseCode?: number
  message?: string
}

export class EmailChannel implements NotifyChannel {
  readonly kind = 'email'
  readonly id: string
  private readonly transport: Transporter

  constructor(private readonly o: EmailChannelOptions) {
    this.id = o.id
    // No I/O here: nodemailer connects on sendMail.
    this.transport = nodemailer.createTransport({
      host: o.host,
      port: o.port,
      secure: o.security === 'tls',
      requireTLS: o.security === 'starttls',
      ignoreTLS: o.security === 'none',
      ...(o.auth ? { auth: { user: o.auth.user, pass: o.auth.pass } } : {}),
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs,
    })
  }

  /** The message as nodemailer takes it (exported for tests). */
  mail(m: NotifyMessage): { from: string; to: string[]; subject: string; text: string; textEncoding: 'base64' } {
    const r = renderMessage(m, this.o.language, this.o.timezone)
    return { from: this.o.from, to: [...this.o.to], subject: r.title, text: r.text, textEncoding: 'base64' }
  }

  async send(m: NotifyMessage, signal: AbortSignal): Promise<void> {
    const where = `email channel ${this.id} (${this.o.host}:${this.o.port})`
    let onAbort: (() => void) | undefined
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        const timeout = (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError'
        reject(
          new NotifyError(timeout ? 'ALERTS_ERR_NOTIFY_TIMEOUT' : 'ALERTS_ERR_NOTIFY_SMTP', `${where}: ${timeout ? 'no answer in time' : 'aborted'}`, {
            retry: timeout,
          }),
        )
      }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      await Promise.race([this.transport.sendMail(this.mail(m)), aborted])
    } catch (err) {
      if (err instanceof NotifyError) throw err
      const f = err as SmtpFailure
      // 4xx: try again later (greylisting, mailbox busy); 5xx and authentication: permanent.
      const permanent = (f.responseCode !== undefined && f.responseCode >= 500) || f.code === 'EAUTH' || f.code === 'EENVELOPE'
      const what = f.responseCode === undefined ? (f.code ?? 'error') : `SMTP ${f.responseCode}`
      throw new NotifyError('ALERTS_ERR_NOTIFY_SMTP', `${where}: ${what}: ${f.message ?? ''}`.trim(), {
        retry: !permanent,
        cause: err,
        details: { smtpCode: f.responseCode ?? null, code: f.code ?? null },
      })
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort)
      aborted.catch(() => undefined)
    }
  }

  close(): void {
    this.transport.close()
  }
}
