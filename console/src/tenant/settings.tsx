// Every tenant setting, with the server's validation message next to its field.
import { useEffect, useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { Banner, Button, Check, Field, Loading, SecretOnce, Select, lines, useAction, useLoad } from "../ui";

type Form = {
  displayName: string;
  accessTokenMinutes: string;
  refreshTokenDays: string;
  passwordMinLength: string;
  requireVerifiedEmail: boolean;
  resetUrlTemplate: string;
  verifyUrlTemplate: string;
  invitationUrlTemplate: string;
  corsOrigins: string;
  mfa: T.MfaPolicy;
  passkeyRpId: string;
  passkeyOrigin: string;
  tokenHookUrl: string;
  tokenHookTimeoutMs: string;
  tokenHookFailure: T.TokenHookFailure;
  scimDeprovision: T.ScimDeprovision;
};

function formOf(s: T.SettingsFieldsFragment): Form {
  return {
    displayName: s.displayName,
    accessTokenMinutes: String(s.accessTokenMinutes),
    refreshTokenDays: String(s.refreshTokenDays),
    passwordMinLength: String(s.passwordMinLength),
    requireVerifiedEmail: s.requireVerifiedEmail,
    resetUrlTemplate: s.resetUrlTemplate,
    verifyUrlTemplate: s.verifyUrlTemplate,
    invitationUrlTemplate: s.invitationUrlTemplate ?? "",
    corsOrigins: s.corsOrigins.join("\n"),
    mfa: s.mfa,
    passkeyRpId: s.passkeyRpId,
    passkeyOrigin: s.passkeyOrigin,
    tokenHookUrl: s.tokenHookUrl ?? "",
    tokenHookTimeoutMs: String(s.tokenHookTimeoutMs),
    tokenHookFailure: s.tokenHookFailure,
    scimDeprovision: s.scimDeprovision,
  };
}

/** A whole number, or NaN for the server to refuse with its own message. */
function int(s: string): number {
  return /^\s*-?\d+\s*$/.test(s) ? parseInt(s, 10) : NaN;
}

export function Settings() {
  const api = useApi();
  const loaded = useLoad(() => api.q<T.SettingsQuery>("Settings"), []);
  const [form, setForm] = useState<Form | null>(null);
  const [base, setBase] = useState<Form | null>(null);
  const [hookSecret, setHookSecret] = useState<string | null>(null);
  const [local, setLocal] = useState<Record<string, string>>({});
  const act = useAction();
  useEffect(() => {
    if (loaded.data) {
      setForm(formOf(loaded.data.tenantSettings));
      setBase(formOf(loaded.data.tenantSettings));
    }
  }, [loaded.data]);
  if (!form) {
    return (
      <section>
        <h1 tabIndex={-1}>Settings</h1>
        <Banner error={loaded.error} />
        {loaded.loading && <Loading what="settings" />}
      </section>
    );
  }
  const f = form;
  const numbers = {
    accessTokenMinutes: f.accessTokenMinutes,
    refreshTokenDays: f.refreshTokenDays,
    passwordMinLength: f.passwordMinLength,
    tokenHookTimeoutMs: f.tokenHookTimeoutMs,
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    // Only "is it a number" is judged here; ranges are the server's to say.
    const bad: Record<string, string> = {};
    for (const [k, v] of Object.entries(numbers)) if (Number.isNaN(int(v))) bad[k] = "Enter a whole number.";
    setLocal(bad);
    if (Object.keys(bad).length) return;
    // Only what the admin changed: a field left alone keeps following the server default
    // (PUBLIC_URL's origin for passkeys, the server's token lifetimes) if it did.
    const all: T.TenantSettingsInput = {
      displayName: f.displayName,
      accessTokenMinutes: int(f.accessTokenMinutes),
      refreshTokenDays: int(f.refreshTokenDays),
      passwordMinLength: int(f.passwordMinLength),
      requireVerifiedEmail: f.requireVerifiedEmail,
      resetUrlTemplate: f.resetUrlTemplate,
      verifyUrlTemplate: f.verifyUrlTemplate,
      // Empty: invitations cannot be sent (there is no default page to land on).
      invitationUrlTemplate: f.invitationUrlTemplate.trim() || null,
      corsOrigins: lines(f.corsOrigins),
      mfa: f.mfa,
      passkeyRpId: f.passkeyRpId,
      passkeyOrigin: f.passkeyOrigin,
      // An empty URL removes the hook.
      tokenHookUrl: f.tokenHookUrl.trim() || null,
      tokenHookTimeoutMs: int(f.tokenHookTimeoutMs),
      tokenHookFailure: f.tokenHookFailure,
      scimDeprovision: f.scimDeprovision,
    };
    const changed = (Object.keys(all) as (keyof Form)[]).filter((k) => JSON.stringify(f[k]) !== JSON.stringify(base![k]));
    if (changed.length === 0) {
      act.setOk("Nothing changed.");
      return;
    }
    const input = Object.fromEntries(changed.map((k) => [k, all[k as keyof T.TenantSettingsInput]])) as T.TenantSettingsInput;
    const r = await act.run(
      () => api.q<T.UpdateSettingsMutation, T.UpdateSettingsMutationVariables>("UpdateSettings", { input }),
      "Settings saved.",
    );
    if (r) {
      setForm(formOf(r.updateTenantSettings));
      setBase(formOf(r.updateTenantSettings));
    }
  };
  const errors = { ...act.fields, ...local };
  const set = (k: keyof Form) => (v: string) => setForm({ ...f, [k]: v });
  return (
    <section>
      <h1 tabIndex={-1}>Settings</h1>
      <Banner error={act.error} ok={act.ok} />
      <form class="form" onSubmit={submit} noValidate>
        <Field label="Display name" name="displayName" hint="Shown in mail and on the sign-in page." value={f.displayName} onInput={set("displayName")} error={errors.displayName} />
        <Field label="Access token lifetime (minutes)" name="accessTokenMinutes" type="number" hint="1 to 1440." value={f.accessTokenMinutes} onInput={set("accessTokenMinutes")} error={errors.accessTokenMinutes} />
        <Field label="Refresh token lifetime (days)" name="refreshTokenDays" type="number" hint="1 to 365." value={f.refreshTokenDays} onInput={set("refreshTokenDays")} error={errors.refreshTokenDays} />
        <Field label="Minimum password length" name="passwordMinLength" type="number" hint="8 to 64." value={f.passwordMinLength} onInput={set("passwordMinLength")} error={errors.passwordMinLength} />
        <Check
          label="Require a confirmed address before sign-in"
          name="requireVerifiedEmail"
          checked={f.requireVerifiedEmail}
          onChange={(requireVerifiedEmail) => setForm({ ...f, requireVerifiedEmail })}
          error={errors.requireVerifiedEmail}
        />
        <Select<T.MfaPolicy>
          label="Second factor"
          name="mfa"
          value={f.mfa}
          options={[
            { value: "OPTIONAL", label: "Optional: users may add one" },
            { value: "REQUIRED", label: "Required: every user enrols one" },
          ]}
          onChange={(mfa) => setForm({ ...f, mfa })}
          error={errors.mfa}
        />
        <Field label="Reset link template" name="resetUrlTemplate" hint="Must contain {token}." value={f.resetUrlTemplate} onInput={set("resetUrlTemplate")} error={errors.resetUrlTemplate} />
        <Field label="Verification link template" name="verifyUrlTemplate" hint="Must contain {token}." value={f.verifyUrlTemplate} onInput={set("verifyUrlTemplate")} error={errors.verifyUrlTemplate} />
        <Field
          label="Organization invitation link template"
          name="invitationUrlTemplate"
          hint="Your app's page that signs the invitee in and calls acceptInvitation; must contain {token}. Empty: no invitations."
          value={f.invitationUrlTemplate}
          onInput={set("invitationUrlTemplate")}
          error={errors.invitationUrlTemplate}
        />
        <Field label="CORS origins" name="corsOrigins" multiline hint="Browser origins allowed to call this tenant, one per line." value={f.corsOrigins} onInput={set("corsOrigins")} error={errors.corsOrigins} />
        <Field label="Passkey relying party id" name="passkeyRpId" value={f.passkeyRpId} onInput={set("passkeyRpId")} error={errors.passkeyRpId} />
        <Field label="Passkey origin" name="passkeyOrigin" value={f.passkeyOrigin} onInput={set("passkeyOrigin")} error={errors.passkeyOrigin} />
        {loaded.data && !loaded.data.tenantSettings.passkeysAvailable && (
          <p class="hint">Passkeys are unavailable: the relying party id cannot serve the origin (WebAuthn needs a domain name).</p>
        )}
        <fieldset>
          <legend>Token hook</legend>
          <p class="hint">Called before every access token and id_token is signed; it answers extra claims (README “Adding claims to tokens”).</p>
          <Field label="Token hook URL" name="tokenHookUrl" hint="Empty: no hook." value={f.tokenHookUrl} onInput={set("tokenHookUrl")} error={errors.tokenHookUrl} />
          <Field label="Token hook time budget (ms)" name="tokenHookTimeoutMs" type="number" hint="100 to 10000." value={f.tokenHookTimeoutMs} onInput={set("tokenHookTimeoutMs")} error={errors.tokenHookTimeoutMs} />
          <Select<T.TokenHookFailure>
            label="When the hook fails"
            name="tokenHookFailure"
            value={f.tokenHookFailure}
            options={[
              { value: "DENY", label: "Refuse the token (SERVICE_UNAVAILABLE)" },
              { value: "ALLOW_WITHOUT_CLAIMS", label: "Issue the token without the hook's claims" },
            ]}
            onChange={(tokenHookFailure) => setForm({ ...f, tokenHookFailure })}
            error={errors.tokenHookFailure}
          />
          <Button
            disabled={act.busy}
            onClick={async () => {
              const r = await act.run(() => api.q<T.RotateTokenHookSecretMutation>("RotateTokenHookSecret"));
              if (r) setHookSecret(r.rotateTokenHookSecret);
            }}
          >
            New hook signing secret
          </Button>
          {hookSecret && <SecretOnce label="Token hook signing secret" secret={hookSecret} />}
        </fieldset>
        <Select<T.ScimDeprovision>
          label="When a directory deletes a user (SCIM)"
          name="scimDeprovision"
          value={f.scimDeprovision}
          options={[
            { value: "DELETE", label: "Delete the account" },
            { value: "DISABLE", label: "Disable the account and keep it, for audit" },
          ]}
          onChange={(scimDeprovision) => setForm({ ...f, scimDeprovision })}
          error={errors.scimDeprovision}
        />
        <p class="hint">Account lockout and sign-in throttling are server-wide (README “Passwords and guessing”), not tenant settings.</p>
        <div class="actions">
          <button type="submit" class="btn primary" disabled={act.busy}>
            {act.busy ? "Saving…" : "Save settings"}
          </button>
        </div>
      </form>
    </section>
  );
}
