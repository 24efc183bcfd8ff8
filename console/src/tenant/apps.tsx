// Applications (OIDC clients): list, create (the secret shown once, with copy), edit,
// rotate the secret, delete.
import { useEffect, useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { go } from "../router";
import { Banner, Button, Check, Confirm, Field, Loading, Pager, SecretOnce, Select, lines, useAction, useLoad, usePager, when } from "../ui";

const PAGE = 20;
const GRANTS = ["authorization_code", "refresh_token", "client_credentials"];

export function Apps() {
  const api = useApi();
  const pager = usePager();
  const list = useLoad(() => api.q<T.ClientsQuery, T.ClientsQueryVariables>("Clients", { first: PAGE, after: pager.after }), [pager.after]);
  const conn = list.data?.clients;
  return (
    <section>
      <div class="title-row">
        <h1 tabIndex={-1}>Applications</h1>
        <a class="btn primary" href="#/apps/new">
          Create application
        </a>
      </div>
      <p class="hint">Apps that sign their users in through this tenant (OpenID Connect clients).</p>
      <Banner error={list.error} />
      {list.loading && !conn && <Loading what="applications" />}
      {conn && (
        <>
          <table>
            <caption class="sr-only">Applications</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Client id</th>
                <th scope="col">Type</th>
                <th scope="col">Grants</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node: c }) => (
                <tr>
                  <td>
                    <a href={`#/apps/${encodeURIComponent(c.id)}`}>{c.name}</a>
                  </td>
                  <td>
                    <code>{c.id}</code>
                  </td>
                  <td>{c.type === "PUBLIC" ? "public" : "confidential"}</td>
                  <td>{c.grantTypes.join(", ")}</td>
                  <td>{when(c.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager
            pager={pager}
            shown={conn.edges.length}
            pageSize={PAGE}
            total={conn.totalCount}
            hasNext={conn.pageInfo.hasNextPage}
            endCursor={conn.pageInfo.endCursor}
            noun="applications"
          />
        </>
      )}
    </section>
  );
}

type Form = {
  name: string;
  type: T.ClientType;
  redirectUris: string;
  postLogoutRedirectUris: string;
  grants: string[];
  scopes: string;
  firstParty: boolean;
};

function formOf(c?: T.ClientFieldsFragment): Form {
  return {
    name: c?.name ?? "",
    type: c?.type ?? "PUBLIC",
    redirectUris: c?.redirectUris.join("\n") ?? "",
    postLogoutRedirectUris: c?.postLogoutRedirectUris.join("\n") ?? "",
    grants: c?.grantTypes ?? ["authorization_code", "refresh_token"],
    scopes: c?.scopes.join(" ") ?? "",
    firstParty: c?.firstParty ?? false,
  };
}

function ClientForm(props: { form: Form; set: (f: Form) => void; fields: Record<string, string>; creating: boolean }) {
  const { form, set, fields } = props;
  return (
    <>
      <Field label="Name" name="name" value={form.name} onInput={(name) => set({ ...form, name })} error={fields.name} required />
      {props.creating && (
        <Select<T.ClientType>
          label="Type"
          name="type"
          value={form.type}
          options={[
            { value: "PUBLIC", label: "Public (browser or native app; PKCE, no secret)" },
            { value: "CONFIDENTIAL", label: "Confidential (server-side app with a secret)" },
          ]}
          onChange={(type) => set({ ...form, type })}
          error={fields.type}
        />
      )}
      <Field
        label="Redirect URIs"
        name="redirectUris"
        multiline
        hint="One per line; matched exactly."
        value={form.redirectUris}
        onInput={(redirectUris) => set({ ...form, redirectUris })}
        error={fields.redirectUris}
      />
      <Field
        label="Post-logout redirect URIs"
        name="postLogoutRedirectUris"
        multiline
        hint="One per line."
        value={form.postLogoutRedirectUris}
        onInput={(postLogoutRedirectUris) => set({ ...form, postLogoutRedirectUris })}
        error={fields.postLogoutRedirectUris}
      />
      <fieldset class="field">
        <legend>Grant types</legend>
        {GRANTS.map((g) => (
          <label class="check-inline">
            <input
              type="checkbox"
              name="grantTypes"
              value={g}
              checked={form.grants.includes(g)}
              onChange={(e) =>
                set({
                  ...form,
                  grants: (e.target as HTMLInputElement).checked ? [...form.grants, g] : form.grants.filter((x) => x !== g),
                })
              }
            />{" "}
            {g}
          </label>
        ))}
        {fields.grantTypes && <p class="field-error">{fields.grantTypes}</p>}
      </fieldset>
      <Field
        label="Extra scopes"
        name="scopes"
        hint="Beyond openid, profile, email, offline_access; space-separated."
        value={form.scopes}
        onInput={(scopes) => set({ ...form, scopes })}
        error={fields.scopes}
      />
      <Check
        label="First-party (no consent screen)"
        name="firstParty"
        checked={form.firstParty}
        onChange={(firstParty) => set({ ...form, firstParty })}
        error={fields.firstParty}
      />
    </>
  );
}

export function CreateApp() {
  const api = useApi();
  const [form, setForm] = useState(formOf());
  const [created, setCreated] = useState<T.CreateClientMutation["createClient"] | null>(null);
  const act = useAction();
  if (created) {
    return (
      <section>
        <h1 tabIndex={-1}>Application created</h1>
        <p>
          <strong>{created.client.name}</strong> · client id <code>{created.client.id}</code>
        </p>
        {created.clientSecret ? (
          <SecretOnce label="Client secret" secret={created.clientSecret} />
        ) : (
          <p>A public client has no secret: it proves itself with PKCE.</p>
        )}
        <p>
          <a href={`#/apps/${encodeURIComponent(created.client.id)}`}>Go to the application</a>
        </p>
      </section>
    );
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(() =>
      api.q<T.CreateClientMutation, T.CreateClientMutationVariables>("CreateClient", {
        input: {
          name: form.name,
          type: form.type,
          redirectUris: lines(form.redirectUris),
          postLogoutRedirectUris: lines(form.postLogoutRedirectUris),
          grantTypes: form.grants,
          scopes: form.scopes.split(/\s+/).filter(Boolean),
          firstParty: form.firstParty,
        },
      }),
    );
    if (r) setCreated(r.createClient);
  };
  return (
    <section>
      <h1 tabIndex={-1}>Create application</h1>
      <Banner error={act.error} />
      <form class="form" onSubmit={submit}>
        <ClientForm form={form} set={setForm} fields={act.fields} creating />
        <div class="actions">
          <button type="submit" class="btn primary" disabled={act.busy}>
            {act.busy ? "Creating…" : "Create application"}
          </button>
          <a class="btn plain" href="#/apps">
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}

export function AppPage(props: { id: string }) {
  const api = useApi();
  const page = useLoad(() => api.q<T.ClientPageQuery, T.ClientPageQueryVariables>("ClientPage", { id: props.id }), [props.id]);
  const c = page.data?.client;
  const [form, setForm] = useState(formOf());
  const [secret, setSecret] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<null | "delete" | "rotate">(null);
  const act = useAction();
  useEffect(() => {
    if (c) setForm(formOf(c));
  }, [c]);
  if (page.loading && !page.data) return <Loading what="the application" />;
  if (!c) {
    return (
      <section>
        <h1 tabIndex={-1}>Application</h1>
        <Banner error={page.error} />
        {!page.error && <p role="alert">There is no application with this id.</p>}
        <a href="#/apps">Back to applications</a>
      </section>
    );
  }
  const save = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(
      () =>
        api.q<T.UpdateClientMutation, T.UpdateClientMutationVariables>("UpdateClient", {
          id: c.id,
          input: {
            name: form.name,
            redirectUris: lines(form.redirectUris),
            postLogoutRedirectUris: lines(form.postLogoutRedirectUris),
            grantTypes: form.grants,
            scopes: form.scopes.split(/\s+/).filter(Boolean),
            firstParty: form.firstParty,
          },
        }),
      "Application saved.",
    );
    if (r) page.reload();
  };
  return (
    <section>
      <p class="crumbs">
        <a href="#/apps">Applications</a> › {c.name}
      </p>
      <h1 tabIndex={-1}>{c.name}</h1>
      <p>
        Client id <code>{c.id}</code> · {c.type === "PUBLIC" ? "public" : "confidential"} · created {when(c.createdAt)}
      </p>
      <Banner error={act.error ?? page.error} ok={act.ok} />
      {secret && <SecretOnce label="New client secret" secret={secret} />}
      <form class="form" onSubmit={save}>
        <ClientForm form={form} set={setForm} fields={act.fields} creating={false} />
        <div class="actions">
          <button type="submit" class="btn primary" disabled={act.busy}>
            {act.busy ? "Saving…" : "Save"}
          </button>
          {c.type === "CONFIDENTIAL" && <Button onClick={() => setConfirm("rotate")}>Rotate secret</Button>}
          <Button kind="danger" onClick={() => setConfirm("delete")}>
            Delete application
          </Button>
        </div>
      </form>
      <Confirm
        open={confirm === "rotate"}
        title={`Rotate the secret of ${c.name}?`}
        action="Rotate secret"
        busy={act.busy}
        onCancel={() => setConfirm(null)}
        onConfirm={async () => {
          const r = await act.run(() =>
            api.q<T.RotateClientSecretMutation, T.RotateClientSecretMutationVariables>("RotateClientSecret", { id: c.id }),
          );
          setConfirm(null);
          if (r?.rotateClientSecret.clientSecret) setSecret(r.rotateClientSecret.clientSecret);
        }}
      >
        <p>The current secret stops working at once; the app needs the new one.</p>
      </Confirm>
      <Confirm
        open={confirm === "delete"}
        title={`Delete ${c.name}?`}
        action={`Delete ${c.name}`}
        busy={act.busy}
        onCancel={() => setConfirm(null)}
        onConfirm={async () => {
          const r = await act.run(() => api.q<T.DeleteClientMutation, T.DeleteClientMutationVariables>("DeleteClient", { id: c.id }));
          setConfirm(null);
          if (r) go("apps");
        }}
      >
        <p>
          <strong>{c.name}</strong> can no longer sign anyone in, and the sessions it holds end.
        </p>
      </Confirm>
    </section>
  );
}
