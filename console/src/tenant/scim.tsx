// SCIM provisioning tokens: the bearer tokens a customer's directory (Entra ID, Okta) sends to
// /t/{tenant}/scim/v2/. Made here (the value shown once, with copy), listed with their last
// use, revoked with a confirmation.
import { useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { Banner, Button, Confirm, Field, Loading, SecretOnce, Select, useAction, useLoad, when } from "../ui";

export function ScimTokens() {
  const api = useApi();
  const page = useLoad(() => api.q<T.ScimTokensQuery, T.ScimTokensQueryVariables>("ScimTokens", {}), []);
  const [name, setName] = useState("");
  const [org, setOrg] = useState("");
  const [made, setMade] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<{ id: string; name: string } | null>(null);
  const act = useAction();
  const orgs = page.data?.organizations.edges.map((e) => e.node) ?? [];
  const orgName = (id: string | null | undefined) => (id ? (orgs.find((o) => o.id === id)?.name ?? id) : "the whole tenant");
  const create = async (e: Event) => {
    e.preventDefault();
    setMade(null);
    const r = await act.run(
      () =>
        api.q<T.CreateScimTokenMutation, T.CreateScimTokenMutationVariables>("CreateScimToken", {
          input: { name, organizationId: org || null },
        }),
      "SCIM token made.",
    );
    if (r) {
      setMade(r.createScimToken.token);
      setName("");
    }
    page.reload();
  };
  const base = `${location.origin}${location.pathname.replace(/\/console$/, "")}/scim/v2`;
  return (
    <section>
      <h1 tabIndex={-1}>SCIM provisioning</h1>
      <p class="hint">
        A customer's directory provisions users with one of these tokens at <code>{base}</code>. A token confined to an organization sees
        only its people.
      </p>
      <Banner error={act.error ?? page.error} ok={act.ok} />
      {made && <SecretOnce label="SCIM token" secret={made} />}
      <form class="inline-form" onSubmit={create} aria-label="Make a SCIM token">
        <Field label="Token name" name="name" hint="What it is for, e.g. Entra ID provisioning." value={name} onInput={setName} error={act.fields.name} required />
        <Select
          label="Confined to"
          name="organizationId"
          value={org}
          options={[{ value: "", label: "The whole tenant" }, ...orgs.map((o) => ({ value: o.id, label: o.name }))]}
          onChange={setOrg}
          error={act.fields.organizationId}
        />
        <div class="actions">
          <button type="submit" class="btn primary" disabled={act.busy}>
            Make token
          </button>
        </div>
      </form>
      {page.loading && !page.data && <Loading what="SCIM tokens" />}
      {page.data && page.data.scimTokens.length === 0 && <p>No SCIM tokens yet.</p>}
      {page.data && page.data.scimTokens.length > 0 && (
        <table>
          <caption class="sr-only">SCIM tokens, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Confined to</th>
              <th scope="col">State</th>
              <th scope="col">Last used</th>
              <th scope="col">Made</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.data.scimTokens.map((t) => (
              <tr>
                <td>{t.name}</td>
                <td>{orgName(t.organizationId)}</td>
                <td>{t.active ? <span class="tag good">active</span> : <span class="tag bad">revoked {when(t.revokedAt)}</span>}</td>
                <td>{when(t.lastUsedAt)}</td>
                <td>{when(t.createdAt)}</td>
                <td>
                  {t.active && (
                    <Button kind="danger" aria-label={`Revoke ${t.name}`} onClick={() => setRevoking({ id: t.id, name: t.name })}>
                      Revoke
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Confirm
        open={revoking !== null}
        title={`Revoke ${revoking?.name ?? ""}?`}
        action="Revoke token"
        busy={act.busy}
        onCancel={() => setRevoking(null)}
        onConfirm={async () => {
          const id = revoking!.id;
          await act.run(() => api.q<T.RevokeScimTokenMutation, T.RevokeScimTokenMutationVariables>("RevokeScimToken", { id }), "SCIM token revoked.");
          setRevoking(null);
          page.reload();
        }}
      >
        <p>The directory's next request with it is refused, on every node. Make a new token for it first if it should keep provisioning.</p>
      </Confirm>
    </section>
  );
}
