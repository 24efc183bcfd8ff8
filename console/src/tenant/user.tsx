// A user's page: profile, roles, verified and disabled state, second factors, sessions,
// linked identities, recent audit events; disabling, deleting (named in the confirmation).
import { useEffect, useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { go } from "../router";
import { Banner, Button, Confirm, Field, Loading, lines, useAction, useLoad, when } from "../ui";

export function UserPage(props: { id: string }) {
  const api = useApi();
  const page = useLoad(() => api.q<T.UserPageQuery, T.UserPageQueryVariables>("UserPage", { id: props.id }), [props.id]);
  const act = useAction();
  const [roles, setRoles] = useState("");
  const [confirm, setConfirm] = useState<null | "delete" | "mfa" | "sessions">(null);
  const u = page.data?.user;
  useEffect(() => {
    if (u) setRoles(u.roles.join(", "));
  }, [u?.id, u?.roles.join(",")]);

  if (page.loading && !page.data) return <Loading what="the user" />;
  if (!u) {
    return (
      <section>
        <h1 tabIndex={-1}>User</h1>
        <Banner error={page.error} />
        {!page.error && <p role="alert">There is no user with this id.</p>}
        <a href="#/users">Back to users</a>
      </section>
    );
  }
  const then = (done: string) => async <R,>(work: () => Promise<R>) => {
    const r = await act.run(work, done);
    page.reload();
    return r;
  };
  const id = { id: u.id };
  return (
    <section>
      <p class="crumbs">
        <a href="#/users">Users</a> › {u.email}
      </p>
      <div class="title-row">
        <h1 tabIndex={-1}>{u.email}</h1>
        <span>
          {u.disabled ? <span class="tag bad">disabled</span> : <span class="tag good">active</span>}{" "}
          {u.emailVerified ? <span class="tag">verified</span> : <span class="tag warn">unverified</span>}
        </span>
      </div>
      <Banner error={act.error ?? page.error} ok={act.ok} />

      <dl class="facts">
        <dt>Username</dt>
        <dd>{u.username}</dd>
        <dt>Id</dt>
        <dd>
          <code>{u.id}</code>
        </dd>
        <dt>Email address</dt>
        <dd>{u.emailVerified ? "confirmed" : "not confirmed yet"}</dd>
        <dt>Created</dt>
        <dd>{when(u.createdAt)}</dd>
        <dt>Last sign-in</dt>
        <dd>{when(u.lastLoginAt)}</dd>
      </dl>

      <div class="actions">
        {u.disabled ? (
          <Button
            kind="primary"
            busy={act.busy}
            onClick={() => then("User enabled.")(() => api.q<T.EnableUserMutation, T.EnableUserMutationVariables>("EnableUser", id))}
          >
            Enable user
          </Button>
        ) : (
          <Button
            kind="danger"
            busy={act.busy}
            onClick={() =>
              then("User disabled; their sessions are revoked.")(() =>
                api.q<T.DisableUserMutation, T.DisableUserMutationVariables>("DisableUser", id),
              )
            }
          >
            Disable user
          </Button>
        )}
        <Button kind="danger" onClick={() => setConfirm("delete")}>
          Delete user
        </Button>
      </div>

      <h2>Roles</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void then("Roles saved.")(() =>
            api.q<T.SetUserRolesMutation, T.SetUserRolesMutationVariables>("SetUserRoles", { id: u.id, roles: lines(roles) }),
          );
        }}
      >
        <Field label="Roles" name="roles" hint="Comma-separated; admin administers this tenant." value={roles} onInput={setRoles} error={act.fields.roles} />
        <button type="submit" class="btn primary" disabled={act.busy}>
          Save roles
        </button>
      </form>

      <h2>Second factors</h2>
      <p>
        Authenticator app: {u.mfa.totp ? "enrolled" : "none"} · Recovery codes left: {u.mfa.recoveryCodesLeft} · Passkeys:{" "}
        {u.mfa.passkeys.length === 0 ? "none" : u.mfa.passkeys.map((p) => p.name).join(", ")}
      </p>
      <Button disabled={!u.mfa.totp && u.mfa.passkeys.length === 0} onClick={() => setConfirm("mfa")}>
        Reset second factors
      </Button>

      <h2>Sessions</h2>
      {u.sessions.length === 0 ? (
        <p>No live sessions.</p>
      ) : (
        <>
          <table>
            <caption class="sr-only">Live sessions</caption>
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Last seen</th>
                <th scope="col">Address</th>
                <th scope="col">Client</th>
                <th scope="col">Browser or program</th>
                <th scope="col">Method</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {u.sessions.map((s) => (
                <tr>
                  <td>{when(s.createdAt)}</td>
                  <td>{when(s.lastSeenAt)}</td>
                  <td>{s.ip ?? "—"}</td>
                  <td>{s.clientId ?? "API"}</td>
                  <td class="ua">{s.userAgent ?? "—"}</td>
                  <td>{s.amr.join(", ") || "—"}</td>
                  <td>
                    <Button
                      disabled={act.busy}
                      aria-label={`Revoke the session started ${when(s.createdAt)}`}
                      onClick={() =>
                        then("Session revoked.")(() =>
                          api.q<T.RevokeSessionMutation, T.RevokeSessionMutationVariables>("RevokeSession", { id: s.id }),
                        )
                      }
                    >
                      Revoke
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Button kind="danger" onClick={() => setConfirm("sessions")}>
            Revoke all sessions
          </Button>
        </>
      )}

      <h2>Linked identities</h2>
      {u.identities.length === 0 ? (
        <p>None.</p>
      ) : (
        <ul class="plain-list">
          {u.identities.map((i) => (
            <li>
              {i.provider.name} ({i.provider.kind}) · {i.email ?? "no address"} · linked {when(i.linkedAt)}{" "}
              <Button
                disabled={act.busy}
                aria-label={`Remove the ${i.provider.name} identity`}
                onClick={() =>
                  then("Identity removed.")(() =>
                    api.q<T.RemoveUserIdentityMutation, T.RemoveUserIdentityMutationVariables>("RemoveUserIdentity", {
                      userId: u.id,
                      id: i.id,
                    }),
                  )
                }
              >
                Remove
              </Button>
            </li>
          ))}
        </ul>
      )}

      <h2>Recent events</h2>
      {(page.data?.auditEvents.edges.length ?? 0) === 0 ? (
        <p>None.</p>
      ) : (
        <ul class="plain-list events">
          {page.data!.auditEvents.edges.map(({ node: e }) => (
            <li>
              <time dateTime={e.at}>{when(e.at)}</time> <strong>{e.kind}</strong> {e.ip ? `from ${e.ip}` : ""} {e.detail ?? ""}
            </li>
          ))}
        </ul>
      )}
      <p>
        <a href={`#/audit?user=${encodeURIComponent(u.id)}`}>All of this user's events</a>
      </p>

      <Confirm
        open={confirm === "delete"}
        title={`Delete ${u.email}?`}
        action={`Delete ${u.email}`}
        busy={act.busy}
        onCancel={() => setConfirm(null)}
        onConfirm={async () => {
          const r = await act.run(() => api.q<T.DeleteUserMutation, T.DeleteUserMutationVariables>("DeleteUser", id));
          setConfirm(null);
          if (r) go("users");
        }}
      >
        <p>
          The account <strong>{u.email}</strong> ({u.username}) is removed with its sessions, second factors and linked identities. This
          cannot be undone.
        </p>
      </Confirm>
      <Confirm
        open={confirm === "mfa"}
        title={`Reset the second factors of ${u.email}?`}
        action="Reset second factors"
        busy={act.busy}
        onCancel={() => setConfirm(null)}
        onConfirm={async () => {
          await then("Second factors removed; the user's sessions are ended.")(() =>
            api.q<T.ResetUserMfaMutation, T.ResetUserMfaMutationVariables>("ResetUserMfa", id),
          );
          setConfirm(null);
        }}
      >
        <p>Their authenticator app, recovery codes and passkeys are removed and every session ends.</p>
      </Confirm>
      <Confirm
        open={confirm === "sessions"}
        title={`Revoke every session of ${u.email}?`}
        action="Revoke all sessions"
        busy={act.busy}
        onCancel={() => setConfirm(null)}
        onConfirm={async () => {
          await then("Every session revoked.")(() =>
            api.q<T.RevokeUserSessionsMutation, T.RevokeUserSessionsMutationVariables>("RevokeUserSessions", id),
          );
          setConfirm(null);
        }}
      >
        <p>They are signed out everywhere; their refresh tokens stop working at once.</p>
      </Confirm>
    </section>
  );
}
