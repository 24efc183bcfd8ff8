// Users: search as you type, paging by cursor, the total; creating a user.
import { useEffect, useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { go } from "../router";
import { Banner, Check, Field, Loading, Pager, lines, useAction, useLoad, usePager, when } from "../ui";

const PAGE = 20;

export function Users() {
  const api = useApi();
  const [typed, setTyped] = useState("");
  const [search, setSearch] = useState("");
  const pager = usePager();
  // Search as you type, once typing pauses (a request per key would race itself).
  useEffect(() => {
    const t = setTimeout(() => {
      setSearch(typed.trim());
      pager.reset();
    }, 250);
    return () => clearTimeout(t);
  }, [typed]);
  const users = useLoad(
    () => api.q<T.UsersQuery, T.UsersQueryVariables>("Users", { first: PAGE, after: pager.after, search: search || null }),
    [search, pager.after],
  );
  const conn = users.data?.users;
  return (
    <section>
      <div class="title-row">
        <h1 tabIndex={-1}>Users</h1>
        <a class="btn primary" href="#/users/new">
          Create user
        </a>
      </div>
      <div class="field search">
        <label for="user-search">Search by email or username</label>
        <input
          id="user-search"
          type="search"
          value={typed}
          placeholder="ada@example.com"
          onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
        />
      </div>
      <Banner error={users.error} />
      {users.loading && !conn && <Loading what="users" />}
      {conn && (
        <>
          <table aria-busy={users.loading ? "true" : "false"}>
            <caption class="sr-only">Users</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Username</th>
                <th scope="col">Roles</th>
                <th scope="col">State</th>
                <th scope="col">Last sign-in</th>
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node: u }) => (
                <tr>
                  <td>
                    <a href={`#/users/${encodeURIComponent(u.id)}`}>{u.email}</a>
                  </td>
                  <td>{u.username}</td>
                  <td>{u.roles.join(", ") || "—"}</td>
                  <td>
                    {u.disabled ? <span class="tag bad">disabled</span> : <span class="tag good">active</span>}{" "}
                    {u.emailVerified ? <span class="tag">verified</span> : <span class="tag warn">unverified</span>}
                  </td>
                  <td>{when(u.lastLoginAt)}</td>
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
            noun="users"
          />
        </>
      )}
    </section>
  );
}

export function CreateUser() {
  const api = useApi();
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [roles, setRoles] = useState("");
  const [verified, setVerified] = useState(false);
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(() =>
      api.q<T.CreateUserMutation, T.CreateUserMutationVariables>("CreateUser", {
        input: { email, username, password, roles: lines(roles), emailVerified: verified },
      }),
    );
    if (r) go(`users/${encodeURIComponent(r.createUser.id)}`);
  };
  return (
    <section>
      <h1 tabIndex={-1}>Create user</h1>
      <Banner error={act.error} />
      <form onSubmit={submit} class="form">
        <Field label="Email" name="email" type="email" value={email} onInput={setEmail} error={act.fields.email} required />
        <Field label="Username" name="username" value={username} onInput={setUsername} error={act.fields.username} required />
        <Field
          label="Initial password"
          name="password"
          type="password"
          autoComplete="new-password"
          value={password}
          onInput={setPassword}
          error={act.fields.password}
          required
        />
        <Field label="Roles" name="roles" hint="Comma-separated, e.g. admin" value={roles} onInput={setRoles} error={act.fields.roles} />
        <Check label="Treat the address as confirmed (no verification mail)" name="emailVerified" checked={verified} onChange={setVerified} />
        <div class="actions">
          <button type="submit" class="btn primary" disabled={act.busy} aria-busy={act.busy ? "true" : undefined}>
            {act.busy ? "Creating…" : "Create user"}
          </button>
          <a class="btn plain" href="#/users">
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}

