// Identity providers: list (enable or disable in place), add from a preset or generic, edit.
// Secrets are write-only: the page shows whether one is set, never the secret.
import { useEffect, useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { go } from "../router";
import { Banner, Button, Check, Confirm, Field, Loading, Pager, Select, lines, useAction, useLoad, usePager, when } from "../ui";

const PAGE = 20;

const KINDS: { value: T.IdentityProviderKind; label: string }[] = [
  { value: "GOOGLE", label: "Google" },
  { value: "MICROSOFT", label: "Microsoft (Entra ID, personal accounts)" },
  { value: "GITHUB", label: "GitHub" },
  { value: "APPLE", label: "Apple" },
  { value: "OIDC", label: "Any OpenID Connect provider (by issuer)" },
  { value: "OAUTH2", label: "Plain OAuth 2.0 server (with a userinfo mapping)" },
];

const LINKING: { value: T.AccountLinking; label: string }[] = [
  { value: "PROVE", label: "Prove: the user signs in to the account, then links" },
  { value: "AUTOMATIC", label: "Automatic when both addresses are verified" },
  { value: "NEVER", label: "Never: refuse the sign-in" },
];

export function Idps() {
  const api = useApi();
  const pager = usePager();
  const list = useLoad(
    () => api.q<T.IdentityProvidersQuery, T.IdentityProvidersQueryVariables>("IdentityProviders", { first: PAGE, after: pager.after }),
    [pager.after],
  );
  const act = useAction();
  const conn = list.data?.identityProviders;
  return (
    <section>
      <div class="title-row">
        <h1 tabIndex={-1}>Identity providers</h1>
        <a class="btn primary" href="#/idps/new">
          Add provider
        </a>
      </div>
      <p class="hint">Where this tenant's users can sign in besides a password.</p>
      <Banner error={act.error ?? list.error} ok={act.ok} />
      {list.loading && !conn && <Loading what="identity providers" />}
      {conn && conn.edges.length === 0 && <p>No providers yet.</p>}
      {conn && conn.edges.length > 0 && (
        <table>
          <caption class="sr-only">Identity providers</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">State</th>
              <th scope="col">Redirect URI to register upstream</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {conn.edges.map(({ node: p }) => (
              <tr>
                <td>
                  <a href={`#/idps/${encodeURIComponent(p.id)}`}>{p.name}</a>
                </td>
                <td>{p.kind}</td>
                <td>{p.enabled ? <span class="tag good">enabled</span> : <span class="tag bad">disabled</span>}</td>
                <td>
                  <code class="wrap">{p.redirectUri}</code>
                </td>
                <td>
                  <Button
                    disabled={act.busy}
                    aria-label={`${p.enabled ? "Disable" : "Enable"} ${p.name}`}
                    onClick={async () => {
                      await act.run(
                        () =>
                          api.q<T.UpdateIdentityProviderMutation, T.UpdateIdentityProviderMutationVariables>("UpdateIdentityProvider", {
                            id: p.id,
                            input: { enabled: !p.enabled },
                          }),
                        `${p.name} ${p.enabled ? "disabled" : "enabled"}.`,
                      );
                      list.reload();
                    }}
                  >
                    {p.enabled ? "Disable" : "Enable"}
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {conn && conn.edges.length > 0 && (
        <Pager
          pager={pager}
          shown={conn.edges.length}
          pageSize={PAGE}
          total={conn.totalCount}
          hasNext={conn.pageInfo.hasNextPage}
          endCursor={conn.pageInfo.endCursor}
          noun="providers"
        />
      )}
    </section>
  );
}

type Form = {
  kind: T.IdentityProviderKind;
  name: string;
  buttonLabel: string;
  enabled: boolean;
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  allowSignUp: boolean;
  accountLinking: T.AccountLinking;
  trustEmailVerified: boolean;
  trustUpstreamMfa: boolean;
  authorizationUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
  directory: string;
  allowedDirectories: string;
  appleTeamId: string;
  appleKeyId: string;
  applePrivateKey: string;
  copyClaims: string;
};

function formOf(p?: T.ProviderFieldsFragment): Form {
  return {
    kind: p?.kind ?? "GOOGLE",
    name: p?.name ?? "",
    buttonLabel: p?.buttonLabel ?? "",
    enabled: p?.enabled ?? true,
    issuer: p?.issuer ?? "",
    clientId: p?.clientId ?? "",
    clientSecret: "",
    scopes: p?.scopes.join(" ") ?? "",
    allowSignUp: p?.allowSignUp ?? true,
    accountLinking: p?.accountLinking ?? "PROVE",
    trustEmailVerified: p?.trustEmailVerified ?? false,
    trustUpstreamMfa: p?.trustUpstreamMfa ?? false,
    authorizationUrl: p?.authorizationUrl ?? "",
    tokenUrl: p?.tokenUrl ?? "",
    userinfoUrl: p?.userinfoUrl ?? "",
    directory: p?.directory ?? "",
    allowedDirectories: p?.allowedDirectories.join("\n") ?? "",
    appleTeamId: p?.appleTeamId ?? "",
    appleKeyId: p?.appleKeyId ?? "",
    applePrivateKey: "",
    copyClaims: p?.copyClaims.join(" ") ?? "",
  };
}

/** The input for create or update: only what the kind uses; empty secrets stay as they are. */
function inputOf(f: Form, creating: boolean): T.UpdateIdentityProviderInput & { kind?: T.IdentityProviderKind } {
  const opt = (s: string) => (s.trim() ? s.trim() : undefined);
  const input: T.UpdateIdentityProviderInput = {
    name: f.name,
    buttonLabel: opt(f.buttonLabel),
    enabled: f.enabled,
    clientId: f.clientId,
    clientSecret: opt(f.clientSecret),
    allowSignUp: f.allowSignUp,
    accountLinking: f.accountLinking,
    trustEmailVerified: f.trustEmailVerified,
    trustUpstreamMfa: f.trustUpstreamMfa,
    copyClaims: f.copyClaims.split(/\s+/).filter(Boolean),
  };
  if (f.scopes.trim()) input.scopes = f.scopes.split(/\s+/).filter(Boolean);
  if (f.kind === "OIDC") input.issuer = f.issuer;
  if (f.kind === "OAUTH2") {
    input.authorizationUrl = f.authorizationUrl;
    input.tokenUrl = f.tokenUrl;
    input.userinfoUrl = opt(f.userinfoUrl);
  }
  if (f.kind === "MICROSOFT") {
    input.directory = opt(f.directory);
    input.allowedDirectories = lines(f.allowedDirectories);
  }
  if (f.kind === "APPLE") {
    input.appleTeamId = opt(f.appleTeamId);
    input.appleKeyId = opt(f.appleKeyId);
    input.applePrivateKey = opt(f.applePrivateKey);
  }
  return creating ? { ...input, kind: f.kind } : input;
}

function ProviderForm(props: { form: Form; set: (f: Form) => void; fields: Record<string, string>; creating: boolean; secretSet?: boolean }) {
  const { form: f, set, fields } = props;
  const text = (key: keyof Form, label: string, hint?: string, type?: string) => (
    <Field
      label={label}
      name={key}
      hint={hint}
      type={type}
      value={f[key] as string}
      onInput={(v) => set({ ...f, [key]: v })}
      error={fields[key]}
    />
  );
  return (
    <>
      {props.creating ? (
        <Select<T.IdentityProviderKind> label="Kind" name="kind" value={f.kind} options={KINDS} onChange={(kind) => set({ ...f, kind })} error={fields.kind} />
      ) : (
        <p>Kind: {f.kind}</p>
      )}
      {text("name", "Name")}
      {text("buttonLabel", "Button label", "Default: “Continue with {name}”.")}
      {f.kind === "OIDC" && text("issuer", "Issuer", "Its discovery document is read when saved.")}
      {f.kind === "OAUTH2" && (
        <>
          {text("authorizationUrl", "Authorization URL")}
          {text("tokenUrl", "Token URL", "Same origin as the authorization URL.")}
          {text("userinfoUrl", "Userinfo URL")}
        </>
      )}
      {f.kind === "MICROSOFT" && (
        <>
          {text("directory", "Directory", "common, organizations, consumers or a tenant GUID.")}
          <Field
            label="Allowed directories"
            name="allowedDirectories"
            multiline
            hint="Tenant GUIDs, one per line; empty: any."
            value={f.allowedDirectories}
            onInput={(allowedDirectories) => set({ ...f, allowedDirectories })}
            error={fields.allowedDirectories}
          />
        </>
      )}
      {text("clientId", f.kind === "APPLE" ? "Services ID (client id)" : "Client id at the provider")}
      {f.kind === "APPLE" ? (
        <>
          {text("appleTeamId", "Team id")}
          {text("appleKeyId", "Key id")}
          <Field
            label="Private key (.p8)"
            name="applePrivateKey"
            multiline
            hint={props.secretSet ? "Set. Leave empty to keep it." : "Write-only: never shown again."}
            value={f.applePrivateKey}
            onInput={(applePrivateKey) => set({ ...f, applePrivateKey })}
            error={fields.applePrivateKey}
          />
        </>
      ) : (
        text("clientSecret", "Client secret", props.secretSet ? "Set. Leave empty to keep it." : "Write-only: never shown again.", "password")
      )}
      {text("scopes", "Scopes", "Space-separated; empty: the kind's default.")}
      {text("copyClaims", "Claims to keep", "Space-separated claim names copied to the linked identity, e.g. groups tid.")}
      <Select<T.AccountLinking>
        label="Existing accounts with the same address"
        name="accountLinking"
        value={f.accountLinking}
        options={LINKING}
        onChange={(accountLinking) => set({ ...f, accountLinking })}
        error={fields.accountLinking}
      />
      <Check label="Enabled" name="enabled" checked={f.enabled} onChange={(enabled) => set({ ...f, enabled })} />
      <Check label="Sign-in may create an account" name="allowSignUp" checked={f.allowSignUp} onChange={(allowSignUp) => set({ ...f, allowSignUp })} />
      {f.kind !== "MICROSOFT" && (
        <Check
          label="Believe the provider's email_verified"
          name="trustEmailVerified"
          checked={f.trustEmailVerified}
          onChange={(trustEmailVerified) => set({ ...f, trustEmailVerified })}
          error={fields.trustEmailVerified}
        />
      )}
      <Check
        label="The provider's own MFA counts as the second factor"
        name="trustUpstreamMfa"
        checked={f.trustUpstreamMfa}
        onChange={(trustUpstreamMfa) => set({ ...f, trustUpstreamMfa })}
      />
    </>
  );
}

export function CreateIdp() {
  const api = useApi();
  const [form, setForm] = useState(formOf());
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const input = inputOf(form, true) as T.CreateIdentityProviderInput;
    const r = await act.run(() =>
      api.q<T.CreateIdentityProviderMutation, T.CreateIdentityProviderMutationVariables>("CreateIdentityProvider", { input }),
    );
    if (r) go(`idps/${encodeURIComponent(r.createIdentityProvider.id)}`);
  };
  return (
    <section>
      <h1 tabIndex={-1}>Add identity provider</h1>
      <Banner error={act.error} />
      <form class="form" onSubmit={submit}>
        <ProviderForm form={form} set={setForm} fields={act.fields} creating />
        <div class="actions">
          <button type="submit" class="btn primary" disabled={act.busy}>
            {act.busy ? "Checking the provider…" : "Add provider"}
          </button>
          <a class="btn plain" href="#/idps">
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}

export function IdpPage(props: { id: string }) {
  const api = useApi();
  const page = useLoad(
    () => api.q<T.IdentityProviderPageQuery, T.IdentityProviderPageQueryVariables>("IdentityProviderPage", { id: props.id }),
    [props.id],
  );
  const p = page.data?.identityProvider;
  const [form, setForm] = useState(formOf());
  const [confirm, setConfirm] = useState(false);
  const act = useAction();
  useEffect(() => {
    if (p) setForm(formOf(p));
  }, [p]);
  if (page.loading && !page.data) return <Loading what="the provider" />;
  if (!p) {
    return (
      <section>
        <h1 tabIndex={-1}>Identity provider</h1>
        <Banner error={page.error} />
        {!page.error && <p role="alert">There is no provider with this id.</p>}
        <a href="#/idps">Back to identity providers</a>
      </section>
    );
  }
  const save = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(
      () =>
        api.q<T.UpdateIdentityProviderMutation, T.UpdateIdentityProviderMutationVariables>("UpdateIdentityProvider", {
          id: p.id,
          input: inputOf(form, false),
        }),
      "Provider saved.",
    );
    if (r) page.reload();
  };
  return (
    <section>
      <p class="crumbs">
        <a href="#/idps">Identity providers</a> › {p.name}
      </p>
      <h1 tabIndex={-1}>{p.name}</h1>
      <p>
        Redirect URI to register at the provider: <code class="wrap">{p.redirectUri}</code> · added {when(p.createdAt)}
      </p>
      <Banner error={act.error ?? page.error} ok={act.ok} />
      <form class="form" onSubmit={save}>
        <ProviderForm form={form} set={setForm} fields={act.fields} creating={false} secretSet={p.clientSecretSet} />
        <div class="actions">
          <button type="submit" class="btn primary" disabled={act.busy}>
            {act.busy ? "Saving…" : "Save"}
          </button>
          <Button kind="danger" onClick={() => setConfirm(true)}>
            Delete provider
          </Button>
        </div>
      </form>
      <Confirm
        open={confirm}
        title={`Delete ${p.name}?`}
        action={`Delete ${p.name}`}
        busy={act.busy}
        onCancel={() => setConfirm(false)}
        onConfirm={async () => {
          const r = await act.run(() =>
            api.q<T.DeleteIdentityProviderMutation, T.DeleteIdentityProviderMutationVariables>("DeleteIdentityProvider", { id: p.id }),
          );
          setConfirm(false);
          if (r) go("idps");
        }}
      >
        <p>The identities linked through {p.name} are removed; accounts with no other way to sign in need a password reset.</p>
      </Confirm>
    </section>
  );
}
