// latchkey client example (examples/mfa.html): password sign-in with a second step, passkey
// sign-in without a name, and setting up an authenticator app and passkeys, with plain fetch
// against the default tenant's GraphQL endpoint. Every operation is spelled out below as it
// would be in any client.
//
// Rules this page keeps:
// - Tokens (access, refresh, mfaToken) live in the variables of this script only: never in
//   localStorage, sessionStorage or cookies. Reloading the page signs out.
// - Everything the server sends is put on the page with textContent (or, for the QR code,
//   as an <img> of a data: URL, where an SVG cannot run script); never innerHTML.
// - Errors show their extensions.code.
'use strict';

(() => {
  // Same origin by default; e.g. "https://id.example.com" when served elsewhere (add this
  // page's origin to CORS_ORIGINS then; passkeys also need the tenant's passkey origin).
  const API = '';
  // The default tenant's endpoint; `?tenant=<slug>` in the page's address picks another.
  const TENANT = new URLSearchParams(window.location.search).get('tenant');
  const ENDPOINT = TENANT && TENANT !== 'default'
    ? `${API}/t/${encodeURIComponent(TENANT)}/graphql`
    : `${API}/graphql`;

  // ---- The GraphQL operations ----------------------------------------------------------
  const TOKENS = 'accessToken refreshToken expiresIn';
  const OPS = {
    register: `mutation Register($input: RegisterInput!) {
      register(input: $input) { ${TOKENS} } }`,
    login: `mutation Login($input: LoginInput!) {
      login(input: $input) { ${TOKENS} } }`,
    verifyMfa: `mutation VerifyMfa($mfaToken: String!, $totp: String, $recoveryCode: String, $passkey: JSON) {
      verifyMfa(mfaToken: $mfaToken, totp: $totp, recoveryCode: $recoveryCode, passkey: $passkey) { ${TOKENS} } }`,
    startPasskeyLogin: `mutation StartPasskeyLogin {
      startPasskeyLogin { challengeId options } }`,
    finishPasskeyLogin: `mutation FinishPasskeyLogin($challengeId: ID!, $credential: JSON!) {
      finishPasskeyLogin(challengeId: $challengeId, credential: $credential) { ${TOKENS} } }`,
    refresh: `mutation Refresh($refreshToken: String!) {
      refresh(refreshToken: $refreshToken) { ${TOKENS} } }`,
    logout: `mutation Logout($refreshToken: String) {
      logout(refreshToken: $refreshToken) }`,
    me: `query Me {
      me { username mfa { totp recoveryCodesLeft passkeys { id name createdAt lastUsedAt } } } }`,
    startTotpEnrollment: `mutation StartTotpEnrollment($mfaToken: String) {
      startTotpEnrollment(mfaToken: $mfaToken) { secret otpauthUri qrCodeSvg } }`,
    confirmTotpEnrollment: `mutation ConfirmTotpEnrollment($code: String!, $mfaToken: String) {
      confirmTotpEnrollment(code: $code, mfaToken: $mfaToken) { codes } }`,
    startPasskeyRegistration: `mutation StartPasskeyRegistration($mfaToken: String) {
      startPasskeyRegistration(mfaToken: $mfaToken) { challengeId options } }`,
    finishPasskeyRegistration: `mutation FinishPasskeyRegistration($challengeId: ID!, $credential: JSON!, $name: String) {
      finishPasskeyRegistration(challengeId: $challengeId, credential: $credential, name: $name) { id name } }`,
    removePasskey: `mutation RemovePasskey($id: ID!) {
      removePasskey(id: $id) }`,
  };

  // ---- State: in memory only ------------------------------------------------------------
  let session = null; // { accessToken, refreshToken, expiresAt } once signed in
  let mfaToken = null; // MFA_REQUIRED: the token of the second step
  let passkeyOptions = null; // MFA_REQUIRED: options for navigator.credentials.get
  let enrollToken = null; // MFA_ENROLLMENT_REQUIRED: an enrolment-only token
  let working = false; // one request at a time (no double submits)

  const $ = (id) => document.getElementById(id);

  /** A GraphQL error (or a failure of ours, in the same shape): message and extensions.code. */
  class ApiError extends Error {
    constructor(error) {
      super(error.message || 'request failed');
      this.extensions = error.extensions || {};
      this.code = this.extensions.code || 'ERROR';
    }
  }

  /** One GraphQL request; the data, or throws the first error as an ApiError. With `auth`,
   *  the signed-in session's access token goes along (refreshed first when about to expire). */
  async function gql(query, variables = {}, { auth = false } = {}) {
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    try {
      if (auth) {
        await freshSession();
        headers.authorization = `Bearer ${session.accessToken}`;
      }
      return await post(query, variables, headers);
    } catch (e) {
      // The session is over (expired refresh token, signed out elsewhere, factors reset by an
      // admin): back to the start.
      if (auth && (e.code === 'UNAUTHENTICATED' || e.code === 'INVALID_TOKEN')) {
        forget();
        show('screen-start');
      }
      throw e;
    }
  }

  async function post(query, variables, headers) {
    let res;
    try {
      res = await fetch(ENDPOINT, {
        method: 'POST', headers, credentials: 'omit', body: JSON.stringify({ query, variables }),
      });
    } catch (e) {
      throw new ApiError({ message: `the server cannot be reached (${e.message})`, extensions: { code: 'NETWORK_ERROR' } });
    }
    let body;
    try {
      body = await res.json();
    } catch {
      throw new ApiError({ message: `the server answered ${res.status} without JSON`, extensions: { code: `HTTP_${res.status}` } });
    }
    if (body.errors && body.errors.length) throw new ApiError(body.errors[0]);
    return body.data;
  }

  function keep(tokens) {
    session = {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: Date.now() + tokens.expiresIn * 1000,
    };
  }

  async function freshSession() {
    if (!session) throw new ApiError({ message: 'sign in first', extensions: { code: 'UNAUTHENTICATED' } });
    if (Date.now() < session.expiresAt - 30_000) return;
    const { refresh } = await post(OPS.refresh, { refreshToken: session.refreshToken }, { 'content-type': 'application/json' });
    keep(refresh);
  }

  /** Variables that make an enrolment act for the enrolment-only token, when there is one. */
  function enrollVars() {
    return enrollToken ? { mfaToken: enrollToken } : {};
  }

  // ---- What the page shows --------------------------------------------------------------
  const SCREENS = ['screen-start', 'screen-second', 'screen-enroll', 'screen-account'];

  /** Shows one screen and moves focus to its heading (so a screen reader reads where we are). */
  function show(id, { focus = true } = {}) {
    for (const s of SCREENS) $(s).hidden = s !== id;
    const setup = $('setup');
    if (id === 'screen-account') $('account-host').append(setup);
    if (id === 'screen-enroll') $('enroll-host').append(setup);
    setup.hidden = id !== 'screen-account' && id !== 'screen-enroll';
    if (focus) $(id).querySelector('h2').focus();
  }

  function say(text, kind = '') {
    const status = $('status');
    status.className = kind;
    status.textContent = text;
  }

  function fail(e) {
    let text;
    if (e instanceof ApiError) {
      const field = e.extensions.field ? ` (${e.extensions.field})` : '';
      text = `${e.code}${field}: ${e.message}`;
    } else if (e && e.name === 'NotAllowedError') {
      text = `NotAllowedError: the passkey prompt was cancelled, timed out or found no passkey (${e.message})`;
    } else if (e && e.name === 'InvalidStateError') {
      text = `InvalidStateError: this authenticator holds a passkey for this account already (${e.message})`;
    } else {
      text = `${(e && e.name) || 'Error'}: ${(e && e.message) || e}`;
    }
    say(text, 'error');
  }

  /** An event handler that runs one request sequence at a time and shows what goes wrong. */
  function action(fn) {
    return async (event) => {
      if (event && event.type === 'submit') event.preventDefault();
      if (working) return;
      working = true;
      document.body.setAttribute('aria-busy', 'true');
      try {
        await fn(event);
      } catch (e) {
        fail(e);
      } finally {
        working = false;
        document.body.removeAttribute('aria-busy');
      }
    };
  }

  function needWebAuthn() {
    const ok = typeof PublicKeyCredential === 'function'
      && typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function'
      && typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';
    if (!ok || !window.isSecureContext) {
      throw new ApiError({
        message: 'this browser cannot use passkeys here (it needs WebAuthn with its JSON methods, on https or localhost)',
        extensions: { code: 'UNSUPPORTED' },
      });
    }
  }

  function time(iso) {
    const t = document.createElement('time');
    t.dateTime = iso;
    t.textContent = new Date(iso).toLocaleString();
    return t;
  }

  /** The SVG as an image: a data: URL (the page's CSP allows data: images; an SVG shown by
   *  <img> cannot run script or load anything). */
  function svgDataUrl(svg) {
    let binary = '';
    for (const b of new TextEncoder().encode(svg)) binary += String.fromCharCode(b);
    return `data:image/svg+xml;base64,${btoa(binary)}`;
  }

  function clearTotpPanel() {
    $('totp-confirm-form').reset();
    $('totp-confirm-form').hidden = true;
    $('totp-qr').removeAttribute('src');
    $('totp-secret').textContent = '';
    $('totp-uri').href = '#';
  }

  function clearRecoveryCodes() {
    $('recovery-list').replaceChildren();
    $('recovery-codes').hidden = true;
  }

  /** Drops every token and everything shown about the account. */
  function forget() {
    session = null;
    mfaToken = null;
    passkeyOptions = null;
    enrollToken = null;
    clearTotpPanel();
    clearRecoveryCodes();
    $('totp-start').hidden = false;
    $('account-title').textContent = 'Signed in';
    $('passkey-list').replaceChildren();
    for (const f of ['login-form', 'register-form', 'totp-form', 'recovery-form', 'passkey-add-form']) $(f).reset();
  }

  function passkeyItem(p) {
    const li = document.createElement('li');
    const info = document.createElement('div');
    const name = document.createElement('strong');
    name.textContent = p.name;
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.append('Added ', time(p.createdAt), ' · ');
    if (p.lastUsedAt) meta.append('last used ', time(p.lastUsedAt));
    else meta.append('not used to sign in yet');
    info.append(name, meta);
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Remove';
    remove.setAttribute('aria-label', `Remove passkey ${p.name}`);
    remove.addEventListener('click', action(async () => {
      say(`Removing passkey "${p.name}"…`);
      const { removePasskey } = await gql(OPS.removePasskey, { id: p.id }, { auth: true });
      await loadAccount();
      $('passkeys-title').focus();
      say(removePasskey ? `Passkey "${p.name}" removed.` : `Passkey "${p.name}" was removed already.`, 'ok');
    }));
    li.append(info, remove);
    return li;
  }

  /** Reads `me` and shows it. */
  async function loadAccount() {
    const { me } = await gql(OPS.me, {}, { auth: true });
    $('account-title').textContent = `Signed in as ${me.username}`;
    $('totp-state').textContent = me.mfa.totp ? 'Set up' : 'Not set up';
    $('recovery-left').textContent = String(me.mfa.recoveryCodesLeft);
    // One authenticator app per account: the button goes once one is set up.
    $('totp-start').hidden = me.mfa.totp || !$('totp-confirm-form').hidden;
    $('passkey-list').replaceChildren(...me.mfa.passkeys.map(passkeyItem));
    $('passkey-none').hidden = me.mfa.passkeys.length > 0;
    return me;
  }

  async function signedIn(tokens, how) {
    keep(tokens);
    mfaToken = null;
    passkeyOptions = null;
    enrollToken = null;
    const me = await loadAccount();
    show('screen-account');
    say(`${how} Welcome, ${me.username}.`, 'ok');
  }

  // ---- Not signed in --------------------------------------------------------------------
  $('login-form').addEventListener('submit', action(async (event) => {
    const form = new FormData(event.target);
    const input = { identifier: form.get('identifier'), password: form.get('password') };
    $('login-password').value = '';
    say('Signing in…');
    let data;
    try {
      data = await gql(OPS.login, { input });
    } catch (e) {
      if (e.code === 'MFA_REQUIRED') return secondStep(e.extensions);
      if (e.code === 'MFA_ENROLLMENT_REQUIRED') return enrollmentRequired(e.extensions.mfaToken, 'Password accepted');
      throw e;
    }
    await signedIn(data.login, 'Signed in with your password.');
  }));

  $('register-form').addEventListener('submit', action(async (event) => {
    const form = new FormData(event.target);
    const input = { email: form.get('email'), username: form.get('username'), password: form.get('password') };
    say('Creating your account…');
    let data;
    try {
      data = await gql(OPS.register, { input });
    } catch (e) {
      // A tenant that requires a second factor has the new account set one up first.
      if (e.code === 'MFA_ENROLLMENT_REQUIRED') {
        $('register-form').reset();
        return enrollmentRequired(e.extensions.mfaToken, 'Account created');
      }
      throw e;
    }
    await signedIn(data.register, 'Account created; you are signed in.');
  }));

  $('passkey-login').addEventListener('click', action(async () => {
    needWebAuthn();
    say('Starting passkey sign-in…');
    // No identifier: any discoverable passkey of this site may answer.
    const { startPasskeyLogin: c } = await gql(OPS.startPasskeyLogin);
    say('Choose your passkey in the browser\'s prompt…');
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(c.options.publicKey),
    });
    say('Checking your passkey…');
    const { finishPasskeyLogin } = await gql(OPS.finishPasskeyLogin, {
      challengeId: c.challengeId, credential: credential.toJSON(),
    });
    await signedIn(finishPasskeyLogin, 'Signed in with your passkey.');
  }));

  // ---- The second step (MFA_REQUIRED) ---------------------------------------------------
  function secondStep(ext) {
    mfaToken = ext.mfaToken;
    passkeyOptions = ext.passkeyOptions || null;
    const methods = ext.methods || [];
    $('totp-form').hidden = !methods.includes('totp');
    $('recovery-form').hidden = !methods.includes('recovery_code');
    $('second-passkey').hidden = !(methods.includes('passkey') && passkeyOptions);
    show('screen-second');
    say('Password accepted. One more step: confirm it is you.', 'ok');
  }

  async function verify(factor, how) {
    if (!mfaToken) throw new ApiError({ message: 'sign in with your password first', extensions: { code: 'INVALID_TOKEN' } });
    say('Checking…');
    let data;
    try {
      data = await gql(OPS.verifyMfa, { mfaToken, ...factor });
    } catch (e) {
      // Expired (5 minutes), spent, or refused after too many wrong answers: start over.
      if (e.code === 'INVALID_TOKEN') {
        forget();
        show('screen-start');
      }
      throw e;
    }
    await signedIn(data.verifyMfa, `Signed in with your password and ${how}.`);
  }

  $('totp-form').addEventListener('submit', action(async () => {
    const code = $('totp-code').value.replace(/\s/g, '');
    $('totp-code').value = '';
    await verify({ totp: code }, 'your authenticator app');
  }));

  $('recovery-form').addEventListener('submit', action(async () => {
    const code = $('recovery-code').value.trim();
    $('recovery-code').value = '';
    await verify({ recoveryCode: code }, 'a recovery code');
  }));

  $('second-passkey-button').addEventListener('click', action(async () => {
    needWebAuthn();
    say('Confirm with your passkey in the browser\'s prompt…');
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(passkeyOptions.publicKey),
    });
    await verify({ passkey: credential.toJSON() }, 'your passkey');
  }));

  $('second-cancel').addEventListener('click', () => {
    forget();
    show('screen-start');
    say('');
  });

  // ---- Enrolment required (MFA_ENROLLMENT_REQUIRED) -------------------------------------
  function enrollmentRequired(token, what) {
    enrollToken = token;
    $('totp-start').hidden = false;
    show('screen-enroll');
    say(`${what}, but this account needs a second factor before it can sign in.`, 'ok');
  }

  /** After an enrolment with the enrolment-only token (which it spends): sign in again. */
  function enrolledSignInAgain(what) {
    forget();
    show('screen-start');
    say(`${what} Now sign in again with your password.`, 'ok');
  }

  $('enroll-cancel').addEventListener('click', () => {
    forget();
    show('screen-start');
    say('');
  });

  // ---- Setting up factors ---------------------------------------------------------------
  $('totp-start').addEventListener('click', action(async () => {
    say('Starting authenticator app setup…');
    const { startTotpEnrollment: e } = await gql(OPS.startTotpEnrollment, enrollVars(), { auth: !enrollToken });
    $('totp-qr').src = svgDataUrl(e.qrCodeSvg);
    $('totp-secret').textContent = e.secret.replace(/(.{4})(?=.)/g, '$1 ');
    $('totp-uri').href = e.otpauthUri.startsWith('otpauth://') ? e.otpauthUri : '#';
    $('totp-start').hidden = true;
    $('totp-confirm-form').hidden = false;
    $('totp-confirm-code').focus();
    say('Add the account to your authenticator app, then type the code it shows.', 'ok');
  }));

  $('totp-confirm-form').addEventListener('submit', action(async () => {
    const code = $('totp-confirm-code').value.replace(/\s/g, '');
    say('Checking the code…');
    let data;
    try {
      data = await gql(OPS.confirmTotpEnrollment, { code, ...enrollVars() }, { auth: !enrollToken });
    } catch (e) {
      $('totp-confirm-code').select();
      throw e;
    }
    clearTotpPanel();
    const items = data.confirmTotpEnrollment.codes.map((c) => {
      const li = document.createElement('li');
      const code = document.createElement('code');
      code.textContent = c;
      li.append(code);
      return li;
    });
    $('recovery-list').replaceChildren(...items);
    $('recovery-codes').hidden = false;
    if (!enrollToken) await loadAccount();
    $('recovery-codes-title').focus();
    say('Authenticator app set up. Save your recovery codes now: they are not shown again.', 'ok');
  }));

  $('totp-cancel').addEventListener('click', () => {
    clearTotpPanel();
    $('totp-start').hidden = false;
    $('totp-start').focus();
    say('Authenticator app setup cancelled.');
  });

  $('recovery-done').addEventListener('click', () => {
    clearRecoveryCodes();
    if (enrollToken) {
      enrolledSignInAgain('Authenticator app set up.');
      return;
    }
    $('account-title').focus();
    say('Recovery codes put away.', 'ok');
  });

  $('passkey-add-form').addEventListener('submit', action(async () => {
    needWebAuthn();
    const name = $('passkey-name').value.trim();
    say('Starting passkey registration…');
    const { startPasskeyRegistration: c } = await gql(OPS.startPasskeyRegistration, enrollVars(), { auth: !enrollToken });
    say('Create the passkey in the browser\'s prompt…');
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(c.options.publicKey),
    });
    say('Saving your passkey…');
    const { finishPasskeyRegistration: p } = await gql(OPS.finishPasskeyRegistration, {
      challengeId: c.challengeId, credential: credential.toJSON(), name: name || null,
    });
    $('passkey-add-form').reset();
    if (enrollToken) {
      enrolledSignInAgain(`Passkey "${p.name}" added.`);
      return;
    }
    await loadAccount();
    $('passkeys-title').focus();
    say(`Passkey "${p.name}" added.`, 'ok');
  }));

  // ---- Signed in ------------------------------------------------------------------------
  $('signout').addEventListener('click', action(async () => {
    const refreshToken = session && session.refreshToken;
    try {
      if (session) await gql(OPS.logout, { refreshToken }, { auth: true });
    } finally {
      forget();
      show('screen-start');
    }
    say('Signed out.', 'ok');
  }));

  if (TENANT) {
    $('tenant').textContent = `Tenant: ${TENANT} (${ENDPOINT})`;
    $('tenant').hidden = false;
  }
  show('screen-start', { focus: false });
})();
