// Webhooks: endpoints (create with the secret shown once, enable/disable, rotate the secret,
// delete), each endpoint's deliveries with their attempts, a test event, a redelivery.
import { useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { go } from "../router";
import { Banner, Button, Confirm, Field, Loading, Pager, SecretOnce, Select, useAction, useLoad, usePager, when } from "../ui";

const PAGE = 20;

export function Webhooks() {
  const api = useApi();
  const pager = usePager();
  const list = useLoad(() => api.q<T.WebhooksQuery, T.WebhooksQueryVariables>("Webhooks", { first: PAGE, after: pager.after }), [pager.after]);
  const conn = list.data?.webhooks;
  return (
    <section>
      <div class="title-row">
        <h1 tabIndex={-1}>Webhooks</h1>
        <a class="btn primary" href="#/webhooks/new">
          Add webhook
        </a>
      </div>
      <p class="hint">Other systems hear what happens in this tenant, signed to the Standard Webhooks spec.</p>
      <Banner error={list.error} />
      {list.loading && !conn && <Loading what="webhooks" />}
      {conn && conn.edges.length === 0 && <p>No webhooks yet.</p>}
      {conn && conn.edges.length > 0 && (
        <>
          <table>
            <caption class="sr-only">Webhooks</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node: w }) => (
                <tr>
                  <td>
                    <a class="wrap" href={`#/webhooks/${encodeURIComponent(w.id)}`}>
                      {w.url}
                    </a>
                    {w.description && <div class="hint">{w.description}</div>}
                  </td>
                  <td>{w.events.join(", ")}</td>
                  <td>
                    {w.enabled ? <span class="tag good">enabled</span> : <span class="tag bad">disabled</span>}
                    {w.failingSince && <span class="tag warn">failing</span>}
                  </td>
                  <td>{when(w.createdAt)}</td>
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
            noun="webhooks"
          />
        </>
      )}
    </section>
  );
}

export function CreateWebhook() {
  const api = useApi();
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState("*");
  const [description, setDescription] = useState("");
  const [created, setCreated] = useState<T.CreateWebhookMutation["createWebhook"] | null>(null);
  const act = useAction();
  if (created) {
    return (
      <section>
        <h1 tabIndex={-1}>Webhook added</h1>
        <p>
          Deliveries to <code class="wrap">{created.webhook.url}</code> are signed with this secret; verify them with any Standard
          Webhooks library.
        </p>
        <SecretOnce label="Signing secret" secret={created.secret} />
        <p>
          <a href={`#/webhooks/${encodeURIComponent(created.webhook.id)}`}>Go to the webhook</a>
        </p>
      </section>
    );
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await act.run(() =>
      api.q<T.CreateWebhookMutation, T.CreateWebhookMutationVariables>("CreateWebhook", {
        input: { url, events: events.split(/[\s,]+/).filter(Boolean), description },
      }),
    );
    if (r) setCreated(r.createWebhook);
  };
  return (
    <section>
      <h1 tabIndex={-1}>Add webhook</h1>
      <Banner error={act.error} />
      <form class="form" onSubmit={submit}>
        <Field label="URL" name="url" hint="HTTPS, at a public address." value={url} onInput={setUrl} error={act.fields.url} required />
        <Field
          label="Events"
          name="events"
          hint="Event types, comma-separated (user.created, session.revoked, ...), or * for all."
          value={events}
          onInput={setEvents}
          error={act.fields.events}
        />
        <Field label="Description" name="description" value={description} onInput={setDescription} error={act.fields.description} />
        <div class="actions">
          <button type="submit" class="btn primary" disabled={act.busy}>
            {act.busy ? "Adding…" : "Add webhook"}
          </button>
          <a class="btn plain" href="#/webhooks">
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}

export function WebhookPage(props: { id: string }) {
  const api = useApi();
  const [status, setStatus] = useState<"" | T.DeliveryStatus>("");
  const page = useLoad(
    () => api.q<T.WebhookPageQuery, T.WebhookPageQueryVariables>("WebhookPage", { id: props.id, status: status || null }),
    [props.id, status],
  );
  const act = useAction();
  const [secret, setSecret] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<null | "delete" | "rotate">(null);
  const w = page.data?.webhook;
  if (page.loading && !page.data) return <Loading what="the webhook" />;
  if (!w) {
    return (
      <section>
        <h1 tabIndex={-1}>Webhook</h1>
        <Banner error={page.error} />
        {!page.error && <p role="alert">There is no webhook with this id.</p>}
        <a href="#/webhooks">Back to webhooks</a>
      </section>
    );
  }
  const then = async <R,>(work: () => Promise<R>, done: string) => {
    const r = await act.run(work, done);
    page.reload();
    return r;
  };
  const deliveries = page.data!.webhookDeliveries;
  return (
    <section>
      <p class="crumbs">
        <a href="#/webhooks">Webhooks</a> › {w.description || w.id}
      </p>
      <h1 tabIndex={-1} class="wrap">
        {w.url}
      </h1>
      <p>
        Events: {w.events.join(", ")} · {w.enabled ? "enabled" : `disabled${w.disabledReason ? ` (${w.disabledReason})` : ""}`}
        {w.failingSince && ` · failing since ${when(w.failingSince)}`}
        {w.previousSecretUntil && ` · the previous secret signs too until ${when(w.previousSecretUntil)}`}
      </p>
      <Banner error={act.error ?? page.error} ok={act.ok} />
      {secret && <SecretOnce label="New signing secret" secret={secret} />}
      <div class="actions">
        <Button
          kind="primary"
          busy={act.busy}
          onClick={() => then(() => api.q<T.SendTestWebhookMutation, T.SendTestWebhookMutationVariables>("SendTestWebhook", { id: w.id }), "Test event sent.")}
        >
          Send test event
        </Button>
        <Button
          disabled={act.busy}
          onClick={() =>
            then(
              () => api.q<T.UpdateWebhookMutation, T.UpdateWebhookMutationVariables>("UpdateWebhook", { id: w.id, input: { enabled: !w.enabled } }),
              w.enabled ? "Webhook disabled." : "Webhook enabled.",
            )
          }
        >
          {w.enabled ? "Disable" : "Enable"}
        </Button>
        <Button onClick={() => setConfirm("rotate")}>Rotate secret</Button>
        <Button kind="danger" onClick={() => setConfirm("delete")}>
          Delete webhook
        </Button>
      </div>
      <div class="title-row">
        <h2>Deliveries</h2>
        <Select<"" | T.DeliveryStatus>
          label="Status"
          name="status"
          value={status}
          options={[
            { value: "", label: "All" },
            { value: "PENDING", label: "Pending" },
            { value: "SUCCEEDED", label: "Succeeded" },
            { value: "FAILED", label: "Failed" },
          ]}
          onChange={setStatus}
        />
      </div>
      <p role="status">{deliveries.totalCount} deliveries (the latest 20 shown)</p>
      {deliveries.edges.length > 0 && (
        <table>
          <caption class="sr-only">Deliveries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last answer</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {deliveries.edges.map(({ node: d }) => {
              const last = d.attempts[d.attempts.length - 1];
              return (
                <tr>
                  <td>
                    {d.eventType}
                    <div class="hint">
                      <code>{d.messageId}</code> · {when(d.createdAt)}
                    </div>
                  </td>
                  <td>
                    <span class={`tag ${d.status === "SUCCEEDED" ? "good" : d.status === "FAILED" ? "bad" : "warn"}`}>{d.status.toLowerCase()}</span>
                    {d.nextAttemptAt && <div class="hint">next {when(d.nextAttemptAt)}</div>}
                  </td>
                  <td>{d.attempts.length}</td>
                  <td>
                    {last ? (last.httpStatus ? `HTTP ${last.httpStatus}` : last.error) : "—"}
                    {last && <div class="hint">{last.durationMs} ms</div>}
                  </td>
                  <td>
                    <Button
                      disabled={act.busy}
                      aria-label={`Send ${d.eventType} ${d.messageId} again`}
                      onClick={() => then(() => api.q<T.RedeliverWebhookMutation, T.RedeliverWebhookMutationVariables>("RedeliverWebhook", { id: d.id }), "Sent again.")}
                    >
                      Send again
                    </Button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Confirm
        open={confirm === "rotate"}
        title="Rotate the signing secret?"
        action="Rotate secret"
        busy={act.busy}
        onCancel={() => setConfirm(null)}
        onConfirm={async () => {
          const r = await act.run(() => api.q<T.RotateWebhookSecretMutation, T.RotateWebhookSecretMutationVariables>("RotateWebhookSecret", { id: w.id }));
          setConfirm(null);
          if (r) setSecret(r.rotateWebhookSecret.secret);
          page.reload();
        }}
      >
        <p>For 24 hours deliveries carry signatures of both secrets, so the receiver can switch to the new one without losing any.</p>
      </Confirm>
      <Confirm
        open={confirm === "delete"}
        title={`Delete the webhook to ${w.url}?`}
        action="Delete webhook"
        busy={act.busy}
        onCancel={() => setConfirm(null)}
        onConfirm={async () => {
          const r = await act.run(() => api.q<T.DeleteWebhookMutation, T.DeleteWebhookMutationVariables>("DeleteWebhook", { id: w.id }));
          setConfirm(null);
          if (r) go("webhooks");
        }}
      >
        <p>It receives nothing more, and its delivery log goes with it.</p>
      </Confirm>
    </section>
  );
}

