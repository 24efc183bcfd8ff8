// Signing in to a tenant console: the OAuth 2.0 authorization code flow with PKCE (RFC 7636,
// S256) as the tenant's built-in public client, through the tenant's own hosted sign-in
// (password, second factor, passkey, upstream providers). Tokens live in this object only:
// never in localStorage, sessionStorage or a cookie the page can read (an XSS that lands later
// finds nothing stored). What must survive the redirect to the sign-in page and back is the
// PKCE verifier and the state, kept in sessionStorage for that round trip and removed on
// return; neither is a credential without the code, which only the browser's redirect carries.

export type TenantConfig = {
  tenant: string;
  clientId: string;
  redirectUri: string;
};

type Pending = { state: string; verifier: string; returnTo: string };
const PENDING = "latchkey-console-pkce";

type TokenAnswer = {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
  id_token?: string;
  error?: string;
  error_description?: string;
};

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomToken(n = 32): string {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b64url(b);
}

async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(digest));
}

export type SignInOutcome =
  | { kind: "signed-in" }
  | { kind: "redirecting" }
  | { kind: "signed-out" }
  | { kind: "failed"; message: string };

export class TenantAuth {
  readonly cfg: TenantConfig;
  private access: string | null = null;
  private refresh: string | null = null;
  private idToken: string | null = null;
  private expiresAt = 0;
  private timer: number | undefined;
  private refreshing: Promise<boolean> | null = null;
  private signingOut = false;
  /** Called when the session cannot be kept (refresh refused): the page asks to sign in. */
  onEnded: () => void = () => {};
  returnTo = "";

  constructor(cfg: TenantConfig) {
    this.cfg = cfg;
  }

  private path(p: string): string {
    return `/t/${encodeURIComponent(this.cfg.tenant)}/${p}`;
  }

  /** On page load: finish a sign-in that came back with a code, or report where we are. */
  async resume(): Promise<SignInOutcome> {
    const q = new URLSearchParams(location.search);
    if (q.get("state") === "signed-out" && !q.get("code")) {
      history.replaceState(null, "", location.pathname);
      return { kind: "signed-out" };
    }
    const code = q.get("code");
    const error = q.get("error");
    if (!code && !error) return this.signIn();
    const raw = sessionStorage.getItem(PENDING);
    sessionStorage.removeItem(PENDING);
    const pending: Pending | null = raw ? (JSON.parse(raw) as Pending) : null;
    // The code leaves the address bar; the screen the person was on comes back.
    history.replaceState(null, "", location.pathname + (pending?.returnTo ?? ""));
    dispatchEvent(new HashChangeEvent("hashchange"));
    if (!pending || pending.state !== q.get("state")) {
      return { kind: "failed", message: "The sign-in answer does not belong to this tab (state mismatch). Sign in again." };
    }
    if (error) {
      return { kind: "failed", message: `The sign-in did not finish: ${q.get("error_description") ?? error}.` };
    }
    const body = new URLSearchParams({
      grant_type: "authorization_code",
      code: code!,
      redirect_uri: this.cfg.redirectUri,
      client_id: this.cfg.clientId,
      code_verifier: pending.verifier,
    });
    const t = await this.token(body);
    if ("message" in t) return { kind: "failed", message: t.message };
    this.returnTo = pending.returnTo;
    return { kind: "signed-in" };
  }

  /** Goes to the tenant's hosted sign-in; comes back to this page with a code. */
  async signIn(prompt?: string): Promise<SignInOutcome> {
    if (!window.isSecureContext || !crypto.subtle) {
      return {
        kind: "failed",
        message: "The console needs a secure page (https, or http on localhost) for its sign-in (PKCE).",
      };
    }
    const pending: Pending = { state: randomToken(), verifier: randomToken(48), returnTo: location.hash };
    sessionStorage.setItem(PENDING, JSON.stringify(pending));
    const q = new URLSearchParams({
      response_type: "code",
      client_id: this.cfg.clientId,
      redirect_uri: this.cfg.redirectUri,
      scope: "openid profile email offline_access",
      state: pending.state,
      code_challenge: await challengeOf(pending.verifier),
      code_challenge_method: "S256",
    });
    if (prompt) q.set("prompt", prompt);
    location.assign(`${this.path("authorize")}?${q}`);
    return { kind: "redirecting" };
  }

  /** The access token, refreshed first when it is about to expire. */
  async accessToken(): Promise<string | null> {
    if (this.access && Date.now() > this.expiresAt - 30_000) await this.renew();
    if (this.signingOut) return null;
    return this.access;
  }

  /** Ends the session here and at latchkey (refresh token revoked, browser session ended). */
  async signOut(): Promise<void> {
    this.signingOut = true;
    window.clearTimeout(this.timer);
    const refresh = this.refresh;
    const hint = this.idToken;
    this.access = this.refresh = this.idToken = null;
    if (refresh) {
      await fetch(this.path("oauth/revoke"), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: refresh, token_type_hint: "refresh_token", client_id: this.cfg.clientId }),
      }).catch(() => undefined);
    }
    const q = new URLSearchParams({
      client_id: this.cfg.clientId,
      post_logout_redirect_uri: this.cfg.redirectUri,
      state: "signed-out",
    });
    if (hint) q.set("id_token_hint", hint);
    location.assign(`${this.path("logout")}?${q}`);
  }

  /**
   * A new token pair from the refresh token (rotated). Only a refusal of the refresh token
   * (`invalid_grant`: revoked, reused, expired) ends the session; a network error or a 5xx
   * keeps it, to be tried again.
   */
  renew(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        if (!this.refresh) return false;
        const t = await this.token(
          new URLSearchParams({ grant_type: "refresh_token", refresh_token: this.refresh, client_id: this.cfg.clientId }),
        );
        if ("message" in t) {
          if (t.refused) this.end();
          return false;
        }
        return true;
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** Forgets the tokens and stops refreshing; the page asks to sign in again. */
  end() {
    window.clearTimeout(this.timer);
    this.access = this.refresh = this.idToken = null;
    this.onEnded();
  }

  private async token(body: URLSearchParams): Promise<TokenAnswer | { message: string; refused: boolean }> {
    let res: Response;
    try {
      res = await fetch(this.path("oauth/token"), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body,
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      return { message: "latchkey did not answer (network error).", refused: false };
    }
    const t = (await res.json().catch(() => ({ error: `HTTP ${res.status}` }))) as TokenAnswer;
    if (!res.ok || !t.access_token) {
      return {
        message: `The sign-in was refused: ${t.error_description ?? t.error ?? res.status}.`,
        refused: res.status === 400 || res.status === 401,
      };
    }
    // A sign-out that started meanwhile wins over a refresh that was in flight.
    if (this.signingOut) return { message: "signed out", refused: true };
    this.access = t.access_token;
    if (t.refresh_token) this.refresh = t.refresh_token;
    if (t.id_token) this.idToken = t.id_token;
    this.expiresAt = Date.now() + t.expires_in * 1000;
    // Silent refresh while the tab is open: a minute before expiry (or at 80% of a short
    // lifetime), so a screen never waits on it.
    window.clearTimeout(this.timer);
    const lead = Math.min(60_000, t.expires_in * 200);
    this.timer = window.setTimeout(() => void this.renew(), Math.max(5_000, t.expires_in * 1000 - lead));
    return t;
  }
}
