// The hosted sign-in pages' passkey buttons (the pages work without this file; passkeys need
// it). Served from this origin under the pages' strict policy: no inline script anywhere.
(function () {
  'use strict';
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) return;

  function fail(message) {
    var box = document.getElementById('error');
    if (!box) {
      box = document.createElement('p');
      box.className = 'error';
      box.id = 'error';
      box.setAttribute('role', 'alert');
      document.querySelector('h1').after(box);
    }
    box.textContent = message;
  }

  async function assertion(options) {
    var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
    var credential = await navigator.credentials.get({ publicKey: publicKey });
    return JSON.stringify(credential.toJSON());
  }

  // Sign-in page: a discoverable passkey, no name typed.
  var loginForm = document.getElementById('passkey-form');
  var loginButton = document.getElementById('passkey-login');
  if (loginForm && loginButton) {
    loginButton.hidden = false;
    loginButton.addEventListener('click', async function () {
      try {
        var body = new URLSearchParams(new FormData(loginForm));
        var resp = await fetch(loginForm.dataset.start, { method: 'POST', body: body });
        if (!resp.ok) throw new Error('could not start a passkey sign-in (' + resp.status + ')');
        var started = await resp.json();
        loginForm.elements.challenge.value = started.challengeId;
        loginForm.elements.credential.value = await assertion(started.options);
        loginForm.submit();
      } catch (e) {
        fail('Passkey sign-in did not work: ' + e.message);
      }
    });
  }

  // Second step: the passkey of this account.
  var mfaForm = document.getElementById('mfa-passkey-form');
  var mfaButton = document.getElementById('mfa-passkey');
  if (mfaForm && mfaButton) {
    mfaButton.addEventListener('click', async function () {
      try {
        mfaForm.elements.passkey.value = await assertion(JSON.parse(mfaForm.dataset.options));
        mfaForm.submit();
      } catch (e) {
        fail('Passkey did not work: ' + e.message);
      }
    });
  }
})();
