// The platform's tenants: search, paging, create (with its first admin), rename, disable,
// delete (the confirmation names the tenant).
import { useEffect, useRef, useState } from "preact/hooks";
import type * as P from "../gql/platform";
import { useApi } from "../context";
import { Banner, Button, Confirm, Field, Loading, Pager, useAction, useLoad, usePager, when } from "../ui";

const PAGE = 20;

type Tenant = P.TenantsQuery["tenants"]["edges"][number]["node"];

export function Tenants() {
  const api = useApi();
  const [typed, setTyped] = useState("");
  const [search, setSearch] = useState("");
  const pager = usePager();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Tenant | null>(null);
  const [deleting, setDeleting] = useState<Tenant | null>(null);
  const act = useAction();
  useEffect(() => {
    const t = setTimeout(() => {
      setSearch(typed.trim());
      pager.reset();
    }, 250);
    return () => clearTimeout(t);
  }, [typed]);
  const list = useLoad(
    () => api.q<P.TenantsQuery, P.TenantsQueryVariables>("Tenants", { first: PAGE, after: pager.after, search: search || null }),
    [search, pager.after],
  );
  const conn = list.data?.tenants;
  const toggle = async (t: Tenant) => {
    await act.run(
      () => api.q<P.UpdateTenantMutation, P.UpdateTenantMutationVariables>("UpdateTenant", { slug: t.slug, input: { disabled: !t.disabled } }),
      `${t.slug} ${t.disabled ? "enabled" : "disabled"}.`,
    );
    list.reload();
  };
  return (
    <section>
      <div class="title-row">
        <h1 tabIndex={-1}>Tenants</h1>
        <Button kind="primary" onClick={() => setCreating(true)}>
          Create tenant
        </Button>
      </div>
      {creating && (
        <CreateTenant
          onDone={(slug) => {
            setCreating(false);
            backToHeading();
            if (slug) {
              act.setOk(`Tenant ${slug} created.`);
              setTyped(slug);
            }
          }}
        />
      )}
      {editing && (
        <RenameTenant
          key={editing.slug}
          tenant={editing}
          onDone={(name) => {
            setEditing(null);
            backToHeading();
            if (name) {
              act.setOk(`${editing.slug} renamed to ${name}.`);
              list.reload();
            }
          }}
        />
      )}
      <div class="field search">
        <label for="tenant-search">Search by slug or name</label>
        <input id="tenant-search" type="search" value={typed} onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
      </div>
      <Banner error={act.error ?? list.error} ok={act.ok} />
      {list.loading && !conn && <Loading what="tenants" />}
      {conn && (
        <>
          <table aria-busy={list.loading ? "true" : "false"}>
            <caption class="sr-only">Tenants</caption>
            <thead>
              <tr>
                <th scope="col">Slug</th>
                <th scope="col">Name</th>
                <th scope="col">Algorithm</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node: t }) => (
                <tr>
                  <td>
                    <code>{t.slug}</code>
                  </td>
                  <td>{t.displayName}</td>
                  <td>{t.algorithm}</td>
                  <td>{t.disabled ? <span class="tag bad">disabled</span> : <span class="tag good">active</span>}</td>
                  <td>{when(t.createdAt)}</td>
                  <td>
                    <div class="row-actions">
                    <a class="btn plain" href={`/t/${encodeURIComponent(t.slug)}/console`} aria-label={`Open the console of ${t.slug}`}>
                      Console
                    </a>
                    <Button onClick={() => setEditing(t)} aria-label={`Rename ${t.slug}`}>
                      Rename
                    </Button>
                    <Button disabled={act.busy} onClick={() => toggle(t)} aria-label={`${t.disabled ? "Enable" : "Disable"} ${t.slug}`}>
                      {t.disabled ? "Enable" : "Disable"}
                    </Button>
                    <Button kind="danger" onClick={() => setDeleting(t)} aria-label={`Delete ${t.slug}`}>
                      Delete
                    </Button>
                    </div>
                  </td>
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
            noun="tenants"
          />
        </>
      )}
      <Confirm
        open={deleting !== null}
        title={`Delete the tenant ${deleting?.slug ?? ""}?`}
        action={`Delete ${deleting?.slug ?? ""}`}
        busy={act.busy}
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          const t = deleting!;
          const r = await act.run(
            () => api.q<P.DeleteTenantMutation, P.DeleteTenantMutationVariables>("DeleteTenant", { slug: t.slug }),
            `Tenant ${t.slug} deleted.`,
          );
          setDeleting(null);
          if (r) list.reload();
        }}
      >
        <p>
          <strong>{deleting?.displayName}</strong> (<code>{deleting?.slug}</code>) is removed with its database: every user, session,
          application and key. This cannot be undone.
        </p>
      </Confirm>
    </section>
  );
}

/** A closed panel gives the focus back to the page's heading, not to nowhere. */
function backToHeading() {
  requestAnimationFrame(() => document.querySelector<HTMLElement>("main h1")?.focus());
}

/** A panel takes the focus when it opens (its heading), so keyboard users land in it. */
function useFocusOnOpen() {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return ref;
}

function CreateTenant(props: { onDone: (slug: string | null) => void }) {
  const api = useApi();
  const heading = useFocusOnOpen();
  const [f, setF] = useState({ slug: "", displayName: "", email: "", username: "", password: "" });
  const act = useAction();
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const submit = async (e: Event) => {
    e.preventDefault();
    const admin = f.email || f.username || f.password ? { email: f.email, username: f.username, password: f.password } : null;
    const r = await act.run(() =>
      api.q<P.CreateTenantMutation, P.CreateTenantMutationVariables>("CreateTenant", {
        input: { slug: f.slug, displayName: f.displayName, admin },
      }),
    );
    if (r) props.onDone(r.createTenant.slug);
  };
  return (
    <form class="form panel" onSubmit={submit} aria-label="Create tenant">
      <h2 tabIndex={-1} ref={heading}>
        Create tenant
      </h2>
      <Banner error={act.error} />
      <Field label="Slug" name="slug" hint="Lowercase letters, digits, dashes: /t/{slug}/…" value={f.slug} onInput={set("slug")} error={act.fields.slug} required />
      <Field label="Name" name="displayName" value={f.displayName} onInput={set("displayName")} error={act.fields.displayName} required />
      <fieldset>
        <legend>First admin (optional)</legend>
        <Field label="Admin email" name="email" type="email" value={f.email} onInput={set("email")} error={act.fields.email} />
        <Field label="Admin username" name="username" value={f.username} onInput={set("username")} error={act.fields.username} />
        <Field
          label="Admin password"
          name="password"
          type="password"
          autoComplete="new-password"
          value={f.password}
          onInput={set("password")}
          error={act.fields.password}
        />
      </fieldset>
      <div class="actions">
        <button type="submit" class="btn primary" disabled={act.busy}>
          {act.busy ? "Creating…" : "Create tenant"}
        </button>
        <Button onClick={() => props.onDone(null)}>Cancel</Button>
      </div>
    </form>
  );
}

function RenameTenant(props: { tenant: Tenant; onDone: (name: string | null) => void }) {
  const api = useApi();
  const heading = useFocusOnOpen();
  const [name, setName] = useState(props.tenant.displayName);
  const act = useAction();
  return (
    <form
      class="form panel"
      aria-label={`Rename ${props.tenant.slug}`}
      onSubmit={async (e) => {
        e.preventDefault();
        const r = await act.run(() =>
          api.q<P.UpdateTenantMutation, P.UpdateTenantMutationVariables>("UpdateTenant", { slug: props.tenant.slug, input: { displayName: name } }),
        );
        if (r) props.onDone(r.updateTenant.displayName);
      }}
    >
      <h2 tabIndex={-1} ref={heading}>
        Rename {props.tenant.slug}
      </h2>
      <Banner error={act.error} />
      <Field label="Name" name="displayName" value={name} onInput={setName} error={act.fields.displayName} required />
      <div class="actions">
        <button type="submit" class="btn primary" disabled={act.busy}>
          Save name
        </button>
        <Button onClick={() => props.onDone(null)}>Cancel</Button>
      </div>
    </form>
  );
}
