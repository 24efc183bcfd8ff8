// The console's entry: which console the page is (its `data-console`), its sign-in, the
// shell with navigation, and the screen the address names.
import { render } from "preact";
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, describe, gql } from "./api";
import type { Transport } from "./api";
import { TenantAuth } from "./auth";
import { ApiContext } from "./context";
import type { Api } from "./context";
import type * as T from "./gql/tenant";
import { platformOp, tenantOp } from "./ops";
import { useRoute } from "./router";
import { Banner, Button, Field, Loading } from "./ui";
import { Tenants } from "./platform/tenants";
import { AppPage, Apps, CreateApp } from "./tenant/apps";
import { Audit } from "./tenant/audit";
import { CreateIdp, IdpPage, Idps } from "./tenant/idps";
import { Keys } from "./tenant/keys";
import { Settings } from "./tenant/settings";
import { UserPage } from "./tenant/user";
import { CreateUser, Users } from "./tenant/users";
import { CreateWebhook, WebhookPage, Webhooks } from "./tenant/webhooks";
import { CreateOrganization, OrganizationPage, Organizations } from "./tenant/orgs";
import { ScimTokens } from "./tenant/scim";

function Shell(props: {
  title: string;
  nav: { href: string; label: string; active: boolean }[];
  who: string;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.querySelector<HTMLElement>("main h1")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">latchkey</span>
        <span class="where">{props.title}</span>
        <span class="who">{props.who}</span>
        <Button onClick={props.onSignOut}>Sign out</Button>
      </header>
      <div class="layout">
        <nav class="side" aria-label="Console">
          <ul>
            {props.nav.map((n) => (
              <li>
                <a href={n.href} aria-current={n.active ? "page" : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main">{props.children}</main>
      </div>
    </>
  );
}

function Centered(props: { title: string; children: ComponentChildren }) {
  return (
    <main class="center">
      <h1 tabIndex={-1}>{props.title}</h1>
      {props.children}
    </main>
  );
}

// ---- tenant console ----

type TenantState =
  | { kind: "starting" }
  | { kind: "ready"; me: T.MeQuery["me"] }
  | { kind: "not-admin"; me: T.MeQuery["me"] }
  | { kind: "signed-out" }
  | { kind: "ended" }
  | { kind: "failed"; message: string };

function TenantScreens() {
  const { path, params } = useRoute();
  const [section, id] = path;
  switch (section ?? "users") {
    case "users":
      if (id === "new") return <CreateUser />;
      return id ? <UserPage id={id} /> : <Users />;
    case "apps":
      if (id === "new") return <CreateApp />;
      return id ? <AppPage id={id} /> : <Apps />;
    case "orgs":
      if (id === "new") return <CreateOrganization />;
      return id ? <OrganizationPage id={id} /> : <Organizations />;
    case "idps":
      if (id === "new") return <CreateIdp />;
      return id ? <IdpPage id={id} /> : <Idps />;
    case "webhooks":
      if (id === "new") return <CreateWebhook />;
      return id ? <WebhookPage id={id} /> : <Webhooks />;
    case "scim":
      return <ScimTokens />;
    case "settings":
      return <Settings />;
    case "keys":
      return <Keys />;
    case "audit":
      return <Audit key={params.get("user") ?? ""} user={params.get("user")} />;
    default:
      return (
        <section>
          <h1 tabIndex={-1}>Not found</h1>
          <p role="alert">There is no such screen.</p>
        </section>
      );
  }
}

const TENANT_NAV = [
  ["users", "Users"],
  ["orgs", "Organizations"],
  ["apps", "Applications"],
  ["idps", "Identity providers"],
  ["webhooks", "Webhooks"],
  ["scim", "SCIM provisioning"],
  ["settings", "Settings"],
  ["keys", "Signing keys"],
  ["audit", "Audit log"],
] as const;

function TenantConsole(props: { el: HTMLElement }) {
  const d = props.el.dataset;
  const auth = useMemo(
    () => new TenantAuth({ tenant: d.tenant!, clientId: d.clientId!, redirectUri: d.redirectUri! }),
    [],
  );
  const [state, setState] = useState<TenantState>({ kind: "starting" });
  const api: Api = useMemo(() => {
    const t: Transport = {
      endpoint: `/t/${encodeURIComponent(d.tenant!)}/graphql`,
      credential: () => auth.accessToken(),
      renew: () => auth.renew(),
      onUnauthenticated: () => auth.end(),
    };
    return { q: (name, vars) => gql(t, tenantOp(name), vars) };
  }, []);
  useEffect(() => {
    auth.onEnded = () => setState({ kind: "ended" });
    void (async () => {
      const o = await auth.resume();
      if (o.kind === "redirecting") return;
      if (o.kind !== "signed-in") return setState(o);
      try {
        const { me } = await api.q<T.MeQuery>("Me");
        setState(me.roles.includes("admin") ? { kind: "ready", me } : { kind: "not-admin", me });
      } catch (e) {
        setState({ kind: "failed", message: describe(e) });
      }
    })();
  }, []);
  const route = useRoute();
  const name = d.tenantName ?? d.tenant!;
  switch (state.kind) {
    case "starting":
      return <Loading what="the console" />;
    case "signed-out":
      return (
        <Centered title={`${name} console`}>
          <p role="status">You are signed out.</p>
          <Button kind="primary" onClick={() => void auth.signIn()}>
            Sign in
          </Button>
        </Centered>
      );
    case "ended":
      return (
        <Centered title={`${name} console`}>
          <p role="alert">Your sign-in has ended. Sign in again to go on.</p>
          <Button kind="primary" onClick={() => void auth.signIn()}>
            Sign in again
          </Button>
        </Centered>
      );
    case "failed":
      return (
        <Centered title={`${name} console`}>
          <p role="alert">{state.message}</p>
          <Button kind="primary" onClick={() => void auth.signIn("login")}>
            Sign in again
          </Button>
        </Centered>
      );
    case "not-admin":
      return (
        <Centered title="You are not an admin of this tenant">
          <p role="alert">
            You are signed in to <strong>{name}</strong> as <strong>{state.me.email}</strong>, and this account does not have the{" "}
            <code>admin</code> role here. Ask an admin of this tenant for it, or sign in with another account.
          </p>
          <Button kind="primary" onClick={() => void auth.signOut()}>
            Sign out
          </Button>
        </Centered>
      );
    case "ready":
      return (
        <ApiContext.Provider value={api}>
          <Shell
            title={`${name} · tenant console`}
            who={state.me.email}
            onSignOut={() => void auth.signOut()}
            nav={TENANT_NAV.map(([href, label]) => ({ href: `#/${href}`, label, active: (route.path[0] ?? "users") === href }))}
          >
            <TenantScreens />
          </Shell>
        </ApiContext.Provider>
      );
  }
}

// ---- platform console ----

function PlatformConsole() {
  // The key lives in this component's state only: never in storage or a cookie; a reload
  // asks for it again.
  const [key, setKey] = useState<string | null>(null);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const api = useMemo<Api | null>(() => {
    if (!key) return null;
    const t: Transport = {
      endpoint: "/admin/graphql",
      credential: async () => key,
      onUnauthenticated: () => {
        setKey(null);
        setError(new ApiError([{ code: "UNAUTHENTICATED", message: "The platform key was refused." }]));
      },
    };
    return { q: (name, vars) => gql(t, platformOp(name), vars) };
  }, [key]);
  if (!api) {
    const submit = async (e: Event) => {
      e.preventDefault();
      setBusy(true);
      setError(null);
      // Check the key with a real request before showing the console.
      const t: Transport = { endpoint: "/admin/graphql", credential: async () => typed, onUnauthenticated: () => {} };
      try {
        await gql(t, platformOp("Tenants"), { first: 1 });
        setKey(typed);
        setTyped("");
      } catch (err) {
        setError(
          err instanceof ApiError && err.code === "UNAUTHENTICATED"
            ? new ApiError([{ code: "UNAUTHENTICATED", message: "That is not the platform API key (ADMIN_API_KEY)." }])
            : err,
        );
      } finally {
        setBusy(false);
      }
    };
    return (
      <Centered title="latchkey platform console">
        <p>Operators sign in with the platform API key (<code>ADMIN_API_KEY</code>). It is kept in this page's memory only.</p>
        {error instanceof ApiError && error.code === "UNAUTHENTICATED" ? (
          <div class="banner error" role="alert">
            {error.errors[0].message}
          </div>
        ) : (
          <Banner error={error} />
        )}
        <form class="form" onSubmit={submit}>
          <Field label="Platform API key" name="adminKey" type="password" autoComplete="off" value={typed} onInput={setTyped} required />
          <button type="submit" class="btn primary" disabled={busy || !typed}>
            {busy ? "Checking…" : "Sign in"}
          </button>
        </form>
      </Centered>
    );
  }
  return (
    <ApiContext.Provider value={api}>
      <Shell title="platform console" who="operator" onSignOut={() => setKey(null)} nav={[{ href: "#/tenants", label: "Tenants", active: true }]}>
        <Tenants />
      </Shell>
    </ApiContext.Provider>
  );
}

const el = document.getElementById("console");
if (el) {
  el.textContent = "";
  render(el.dataset.console === "platform" ? <PlatformConsole /> : <TenantConsole el={el} />, el);
}
