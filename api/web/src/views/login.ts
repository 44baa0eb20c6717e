import { api } from '../api.ts'
import { el } from '../dom.ts'
import { t } from '../i18n.ts'
import { state } from '../state.ts'

/** Sign-in form (#/login): POST /auth/login, the token kept in sessionStorage; then `signedIn()`. */
export function loginView(main: HTMLElement, signedIn: () => Promise<void>): void {
  const user = el('input', { id: 'login-user', autocomplete: 'username' })
  const pass = el('input', { id: 'login-pass', type: 'password', autocomplete: 'current-password' })
  const msg = el('div', { id: 'login-error', role: 'status' })
  const submit = async (ev: Event): Promise<void> => {
    ev.preventDefault()
    try {
      const r = await api<{ token: string }>('auth/login', { method: 'POST', body: { username: user.value, password: pass.value } })
      state.token = r.token
      sessionStorage.setItem('pw.token', r.token)
      await signedIn()
    } catch (err) {
      msg.textContent = err instanceof Error ? err.message : String(err)
    }
  }
  main.replaceChildren(
    el(
      'form',
      { class: 'login', onsubmit: submit },
      el('h2', {}, t('login')),
      el('label', {}, t('username'), user),
      el('label', {}, t('password'), pass),
      el('button', { class: 'primary', type: 'submit', id: 'login-submit' }, t('login')),
      msg,
    ),
  )
}
