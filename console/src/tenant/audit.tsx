// The audit log: filter by kind, user and time; paging; each event's actor, subject, address.
import { useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { Banner, Loading, Pager, useLoad, usePager, when } from "../ui";

const PAGE = 50;

type Filter = { kind: string; userId: string; since: string; until: string };

/** A `datetime-local` value, read as UTC (the log's times are UTC). */
function utc(local: string): string | null {
  return local ? new Date(`${local}:00Z`).toISOString() : null;
}

export function Audit(props: { user: string | null }) {
  const api = useApi();
  const [draft, setDraft] = useState<Filter>({ kind: "", userId: props.user ?? "", since: "", until: "" });
  const [filter, setFilter] = useState<Filter>(draft);
  const pager = usePager();
  const events = useLoad(
    () =>
      api.q<T.AuditEventsQuery, T.AuditEventsQueryVariables>("AuditEvents", {
        first: PAGE,
        after: pager.after,
        kind: filter.kind.trim() || null,
        userId: filter.userId.trim() || null,
        since: utc(filter.since),
        until: utc(filter.until),
      }),
    [filter, pager.after],
  );
  const conn = events.data?.auditEvents;
  const input = (key: keyof Filter, label: string, type = "text", placeholder = "") => (
    <div class="field">
      <label for={`audit-${key}`}>{label}</label>
      <input
        id={`audit-${key}`}
        name={key}
        type={type}
        placeholder={placeholder}
        value={draft[key]}
        onInput={(e) => setDraft({ ...draft, [key]: (e.target as HTMLInputElement).value })}
      />
    </div>
  );
  return (
    <section>
      <h1 tabIndex={-1}>Audit log</h1>
      <form
        class="filters"
        role="search"
        aria-label="Filter events"
        onSubmit={(e) => {
          e.preventDefault();
          pager.reset();
          setFilter({ ...draft });
        }}
      >
        {input("kind", "Kind", "text", "login_failure")}
        {input("userId", "User id")}
        {input("since", "From (UTC)", "datetime-local")}
        {input("until", "Until (UTC)", "datetime-local")}
        <div class="actions">
          <button type="submit" class="btn primary">
            Filter
          </button>
        </div>
      </form>
      <Banner error={events.error} />
      {events.loading && !conn && <Loading what="events" />}
      {conn && (
        <>
          <table aria-busy={events.loading ? "true" : "false"}>
            <caption class="sr-only">Events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Kind</th>
                <th scope="col">Actor</th>
                <th scope="col">Subject</th>
                <th scope="col">Address</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node: e }) => (
                <tr>
                  <td>
                    <time dateTime={e.at}>{when(e.at)}</time>
                  </td>
                  <td>{e.kind}</td>
                  <td>{e.actorId ? <a href={`#/users/${encodeURIComponent(e.actorId)}`}>{e.actorId}</a> : "—"}</td>
                  <td>{e.userId ? <a href={`#/users/${encodeURIComponent(e.userId)}`}>{e.userId}</a> : "—"}</td>
                  <td>{e.ip ?? "—"}</td>
                  <td>{e.detail ?? ""}</td>
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
            noun="events"
          />
        </>
      )}
    </section>
  );
}
