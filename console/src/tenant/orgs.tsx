// Organizations: the list (search as you type), creating one, and an organization's page: its
// settings (name, MFA, roles of joining by domain, its own identity provider and sign-in
// policy), verified domains, members and invitations.
import { useEffect, useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { go } from "../router";
import { Banner, Button, Check, Confirm, Field, Loading, Pager, Select, lines, useAction, useLoad, usePager, when } from "../ui";

const PAGE = 20;

const countMembers = (n: number) => `${n} member${n === 1 ? "" : "s"}`;

export function Organizations() {
  const api = useApi();
  const [typed, setTyped] = useState("");
  const [search, setSearch] = useState("");
  const pager = usePager();
  useEffect(() => {
    const t = setTimeout(() => {
      setSearch(typed.trim());
      pager.reset();
    }, 250);
    return () => clearTimeout(t);
  }, [typed]);
  const list = useLoad(
    () => api.q<T.OrganizationsQuery, T.OrganizationsQueryVariables>("Organizations", { first: PAGE, after: pager.after, search: search || null }),
    [search, pager.after],
  );
  const conn = list.data?.organizations;
  return (
    <section>
      <div class="title-row">
        <h1 tabIndex={-1}>Organizations</h1>
        <a class="btn primary" href="#/orgs/new">
          Create organization
        </a>
      </div>
      <p class="hint">The companies inside this tenant: their members, admins, domains and sign-in.</p>
      <div class="field search">
        <label for="org-search">Search by name or slug</label>
        <input id="org-search" type="search" value={typed} placeholder="acme" onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
      </div>
      <Banner error={list.error} />
      {list.loading && !conn && <Loading what="organizations" />}
      {conn && (
        <>
          <table aria-busy={list.loading ? "true" : "false"}>
            <caption class="sr-only">Organizations</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Slug</th>
                <th scope="col">Members</th>
                <th scope="col">Sign-in</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node: o }) => (
                <tr>
                  <td>
                    <a href={`#/orgs/${encodeURIComponent(o.id)}`}>{o.name}</a>
                  </td>
                  <td>
                    <code>{o.slug}</code>
                  </td>
                  <td>{o.memberCount}</td>
                  <td>
                    {o.ssoRequired ? <span class="tag warn">its provider only</span> : o.identityProviderId ? "own provider" : "—"}
                    {o.mfaRequired && <span class="tag good">MFA</span>}
                  </td>
                  <td>{when(o.createdAt)}</td>
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
            noun="organizations"
          />
        </>
      )}
    </section>
  );
}

export function CreateOrganization() {
  const api = useApi();
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(() =>
      api.q<T.CreateOrganizationMutation, T.CreateOrganizationMutationVariables>("CreateOrganization", {
        input: { name, slug: slug.trim() || null },
      }),
    );
    if (r) go(`orgs/${encodeURIComponent(r.createOrganization.id)}`);
  };
  return (
    <section>
      <h1 tabIndex={-1}>Create organization</h1>
      <Banner error={act.error} />
      <form class="form" onSubmit={submit}>
        <Field label="Name" name="name" value={name} onInput={setName} error={act.fields.name} required />
        <Field label="Slug" name="slug" hint="Lower-case letters, digits and '-'; from the name when empty." value={slug} onInput={setSlug} error={act.fields.slug} />
        <div class="actions">
          <button type="submit" class="btn primary" disabled={act.busy}>
            {act.busy ? "Creating…" : "Create organization"}
          </button>
          <a class="btn plain" href="#/orgs">
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}

type Org = NonNullable<T.OrganizationPageQuery["organization"]>;

export function OrganizationPage(props: { id: string }) {
  const api = useApi();
  const page = useLoad(() => api.q<T.OrganizationPageQuery, T.OrganizationPageQueryVariables>("OrganizationPage", { id: props.id }), [props.id]);
  const [confirm, setConfirm] = useState(false);
  const act = useAction();
  const o = page.data?.organization;
  if (page.loading && !page.data) return <Loading what="the organization" />;
  if (!o) {
    return (
      <section>
        <h1 tabIndex={-1}>Organization</h1>
        <Banner error={page.error} />
        {!page.error && <p role="alert">There is no organization with this id.</p>}
        <a href="#/orgs">Back to organizations</a>
      </section>
    );
  }
  const roles = page.data!.organizationRoles;
  const providers = page.data!.identityProviders.edges.map((e) => e.node);
  return (
    <section>
      <p class="crumbs">
        <a href="#/orgs">Organizations</a> › {o.slug}
      </p>
      <h1 tabIndex={-1}>{o.name}</h1>
      <p>
        {countMembers(o.memberCount)} · created {when(o.createdAt)} · id <code>{o.id}</code>
      </p>
      <OrgSettings key={o.id} org={o} providers={providers} onSaved={page.reload} />
      <Domains org={o} onChange={page.reload} />
      <Members org={o} roles={roles} onChange={page.reload} />
      <Invitations org={o} roles={roles} onChange={page.reload} />
      <h2>Delete</h2>
      <Banner error={act.error} />
      <Button kind="danger" onClick={() => setConfirm(true)}>
        Delete organization
      </Button>
      <Confirm
        open={confirm}
        title={`Delete ${o.name}?`}
        action="Delete organization"
        busy={act.busy}
        onCancel={() => setConfirm(false)}
        onConfirm={async () => {
          const r = await act.run(() => api.q<T.DeleteOrganizationMutation, T.DeleteOrganizationMutationVariables>("DeleteOrganization", { id: o.id }));
          setConfirm(false);
          if (r) go("orgs");
        }}
      >
        <p>Its memberships, invitations and domains go with it, and its members' sessions scoped to it end at once. The users stay.</p>
      </Confirm>
    </section>
  );
}

function OrgSettings(props: { org: Org; providers: { id: string; name: string }[]; onSaved: () => void }) {
  const api = useApi();
  const o = props.org;
  const [name, setName] = useState(o.name);
  const [mfa, setMfa] = useState(o.mfaRequired);
  const [jit, setJit] = useState(o.jitRoles.join(", "));
  const [idp, setIdp] = useState(o.identityProviderId ?? "");
  const [sso, setSso] = useState(o.ssoRequired);
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    await act.run(
      () =>
        api.q<T.UpdateOrganizationMutation, T.UpdateOrganizationMutationVariables>("UpdateOrganization", {
          id: o.id,
          input: { name, mfaRequired: mfa, jitRoles: lines(jit), identityProviderId: idp || null, ssoRequired: sso },
        }),
      "Organization saved.",
    );
    props.onSaved();
  };
  return (
    <form class="form" onSubmit={submit} aria-labelledby="org-settings">
      <h2 id="org-settings">Settings</h2>
      <Banner error={act.error} ok={act.ok} />
      <Field label="Name" name="name" value={name} onInput={setName} error={act.fields.name} required />
      <Check label="Members must sign in with a second factor" name="mfaRequired" checked={mfa} onChange={setMfa} error={act.fields.mfaRequired} />
      <Field
        label="Roles of members who join by a verified domain"
        name="jitRoles"
        hint="Comma-separated org roles."
        value={jit}
        onInput={setJit}
        error={act.fields.jitRoles}
      />
      <Select
        label="Its own identity provider"
        name="identityProviderId"
        value={idp}
        options={[{ value: "", label: "None" }, ...props.providers.map((p) => ({ value: p.id, label: p.name }))]}
        onChange={setIdp}
        error={act.fields.identityProviderId}
      />
      <Check
        label="Addresses of its domains must sign in through its provider (no password)"
        name="ssoRequired"
        checked={sso}
        onChange={setSso}
        error={act.fields.ssoRequired}
      />
      <div class="actions">
        <button type="submit" class="btn primary" disabled={act.busy}>
          {act.busy ? "Saving…" : "Save"}
        </button>
      </div>
    </form>
  );
}

function Domains(props: { org: Org; onChange: () => void }) {
  const api = useApi();
  const o = props.org;
  const [domain, setDomain] = useState("");
  const act = useAction();
  const add = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(
      () => api.q<T.AddOrganizationDomainMutation, T.AddOrganizationDomainMutationVariables>("AddOrganizationDomain", { orgId: o.id, domain }),
      "Domain added.",
    );
    if (r) setDomain("");
    props.onChange();
  };
  return (
    <section aria-labelledby="org-domains">
      <h2 id="org-domains">Verified domains</h2>
      <p class="hint">
        People whose confirmed address is in one of these join with the roles above at their first sign-in. A domain is verified by your
        assertion that it is this organization's.
      </p>
      <Banner error={act.error} ok={act.ok} />
      {o.domains.length === 0 ? (
        <p>No domains.</p>
      ) : (
        <ul class="plain-list">
          {o.domains.map((d) => (
            <li>
              <code>{d.domain}</code> <span class="hint">added {when(d.createdAt)}</span>{" "}
              <Button
                disabled={act.busy}
                aria-label={`Remove the domain ${d.domain}`}
                onClick={async () => {
                  await act.run(
                    () =>
                      api.q<T.RemoveOrganizationDomainMutation, T.RemoveOrganizationDomainMutationVariables>("RemoveOrganizationDomain", {
                        orgId: o.id,
                        domain: d.domain,
                      }),
                    "Domain removed.",
                  );
                  props.onChange();
                }}
              >
                Remove
              </Button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={add}>
        <Field label="Domain" name="domain" hint="Like acme.com." value={domain} onInput={setDomain} error={act.fields.domain} required />
        <div class="actions">
          <button type="submit" class="btn" disabled={act.busy}>
            Add domain
          </button>
        </div>
      </form>
    </section>
  );
}

function roleHint(roles: { name: string }[]): string {
  return `Comma-separated, of: ${roles.map((r) => r.name).join(", ")}.`;
}

function Members(props: { org: Org; roles: { name: string }[]; onChange: () => void }) {
  const api = useApi();
  const o = props.org;
  const [email, setEmail] = useState("");
  const [roles, setRoles] = useState("member");
  const act = useAction();
  const add = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(async () => {
      const found = await api.q<T.UserByEmailQuery, T.UserByEmailQueryVariables>("UserByEmail", { search: email.trim() });
      const user = found.users.edges.map((x) => x.node).find((u) => u.email.toLowerCase() === email.trim().toLowerCase());
      if (!user) throw new Error(`No user has the address ${email.trim()}: invite them instead.`);
      return api.q<T.AddOrganizationMemberMutation, T.AddOrganizationMemberMutationVariables>("AddOrganizationMember", {
        orgId: o.id,
        userId: user.id,
        roles: lines(roles),
      });
    }, "Member added.");
    if (r) setEmail("");
    props.onChange();
  };
  return (
    <section aria-labelledby="org-members">
      <h2 id="org-members">Members</h2>
      <Banner error={act.error} ok={act.ok} />
      <p role="status">{countMembers(o.members.totalCount)} (the first 50 shown)</p>
      {o.members.edges.length > 0 && (
        <table>
          <caption class="sr-only">Members</caption>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Org roles</th>
              <th scope="col">Joined</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {o.members.edges.map(({ node: m }) => (
              <tr>
                <td>
                  <a href={`#/users/${encodeURIComponent(m.userId)}`}>{m.email}</a>
                </td>
                <td>{m.roles.join(", ") || "—"}</td>
                <td>{when(m.joinedAt)}</td>
                <td>
                  <Button
                    disabled={act.busy}
                    aria-label={`Remove ${m.email} from ${o.name}`}
                    onClick={async () => {
                      await act.run(
                        () =>
                          api.q<T.RemoveOrganizationMemberMutation, T.RemoveOrganizationMemberMutationVariables>("RemoveOrganizationMember", {
                            orgId: o.id,
                            userId: m.userId,
                          }),
                        `${m.email} removed; their sessions in ${o.name} ended.`,
                      );
                      props.onChange();
                    }}
                  >
                    Remove
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="inline-form" onSubmit={add} aria-label="Add a member">
        <Field label="Email of an existing user" name="memberEmail" type="email" value={email} onInput={setEmail} error={act.fields.userId} required />
        <Field label="Org roles" name="memberRoles" hint={roleHint(props.roles)} value={roles} onInput={setRoles} error={act.fields.roles} />
        <div class="actions">
          <button type="submit" class="btn" disabled={act.busy}>
            Add member
          </button>
        </div>
      </form>
    </section>
  );
}

const STATE_TAG: Record<T.OrganizationInvitationState, string> = {
  PENDING: "warn",
  ACCEPTED: "good",
  REVOKED: "bad",
  EXPIRED: "bad",
};

function Invitations(props: { org: Org; roles: { name: string }[]; onChange: () => void }) {
  const api = useApi();
  const o = props.org;
  const [email, setEmail] = useState("");
  const [roles, setRoles] = useState("member");
  const act = useAction();
  const invite = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(
      () =>
        api.q<T.InviteToOrganizationMutation, T.InviteToOrganizationMutationVariables>("InviteToOrganization", {
          orgId: o.id,
          email,
          roles: lines(roles),
        }),
      `Invitation mailed to ${email.trim()}.`,
    );
    if (r) setEmail("");
    props.onChange();
  };
  return (
    <section aria-labelledby="org-invitations">
      <h2 id="org-invitations">Invitations</h2>
      <Banner error={act.error} ok={act.ok} />
      {o.invitations.edges.length === 0 ? (
        <p>No invitations.</p>
      ) : (
        <table>
          <caption class="sr-only">Invitations, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Org roles</th>
              <th scope="col">State</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {o.invitations.edges.map(({ node: i }) => (
              <tr>
                <td>{i.email}</td>
                <td>{i.roles.join(", ") || "—"}</td>
                <td>
                  <span class={`tag ${STATE_TAG[i.state]}`}>{i.state.toLowerCase()}</span>
                </td>
                <td>{when(i.expiresAt)}</td>
                <td>
                  {i.state === "PENDING" && (
                    <Button
                      disabled={act.busy}
                      aria-label={`Revoke the invitation of ${i.email}`}
                      onClick={async () => {
                        await act.run(
                          () => api.q<T.RevokeInvitationMutation, T.RevokeInvitationMutationVariables>("RevokeInvitation", { id: i.id }),
                          "Invitation revoked.",
                        );
                        props.onChange();
                      }}
                    >
                      Revoke
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="inline-form" onSubmit={invite} aria-label="Invite someone">
        <Field label="Email to invite" name="inviteEmail" type="email" value={email} onInput={setEmail} error={act.fields.email} required />
        <Field label="Org roles" name="inviteRoles" hint={roleHint(props.roles)} value={roles} onInput={setRoles} error={act.fields.roles} />
        <div class="actions">
          <button type="submit" class="btn" disabled={act.busy}>
            Send invitation
          </button>
        </div>
      </form>
    </section>
  );
}
