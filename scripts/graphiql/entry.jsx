// GraphiQL for latchkey, bundled with React by scripts/vendor-assets.sh into
// assets/graphiql/graphiql.js. The page (src/http/playground.rs) carries its settings as
// data: the endpoint in data-endpoint, the starting query in a non-executed
// <script type="text/plain"> block, so the page needs no inline script (a strict CSP holds).
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/graphiql.css';

const root = document.getElementById('graphiql');
const endpoint = root.dataset.endpoint;
const defaultQuery = document.getElementById('graphiql-default-query').textContent.trim() + '\n';

// Same-origin endpoint only; no subscription URL, so no WebSocket is ever opened.
const fetcher = createGraphiQLFetcher({ url: endpoint });

// ---- What GraphiQL may keep in the browser -------------------------------------------------
// GraphiQL 3.8 saves its state through the `storage` prop, under keys `graphiql:<name>`. Left
// to itself it uses localStorage, one namespace for the whole origin, and its history
// (`queries`, `favorites`) stores each run's headers even with shouldPersistHeaders: false:
// the admin key and users' Bearer tokens stayed on disk for good and came back through History
// on every GraphiQL page. So GraphiQL gets the store below instead:
//  - sessionStorage, not localStorage: what the panes hold survives a reload but dies with
//    the tab. Queries and variables on an identity server carry passwords and refresh tokens
//    (login, refresh), which no filter can tell from other text; nothing outlives the tab.
//  - one namespace per endpoint (`latchkey:<endpoint path>:`), so /graphql, /t/{slug}/graphql
//    and /admin/graphql never open with each other's tabs or history.
//  - no header value is ever written: the `headers` key is never set, and `headers` is
//    nulled in every saved tab and history entry (GraphiQL accepts null there). History
//    entries of the running tab keep their headers in memory only.
const PREFIX = `latchkey:${endpoint}:`;
// GraphiQL's own key names (StorageAPI prefixes them with "graphiql:").
const HEADERS_KEY = 'graphiql:headers';
const JSON_KEYS = new Set(['graphiql:tabState', 'graphiql:queries', 'graphiql:favorites']);

/** `value` (JSON) with every `headers` field set to null; null if it is not JSON. */
function withoutHeaders(value) {
  try {
    return JSON.stringify(JSON.parse(value), (key, v) => (key === 'headers' ? null : v));
  } catch {
    return null;
  }
}

/** A Storage over `backing` that keeps GraphiQL's keys under PREFIX and never stores headers. */
function endpointStorage(backing) {
  const own = () => {
    const keys = [];
    for (let i = 0; i < backing.length; i++) {
      const key = backing.key(i);
      if (key !== null && key.startsWith(PREFIX)) keys.push(key);
    }
    return keys;
  };
  return {
    getItem: (key) => backing.getItem(PREFIX + key),
    setItem(key, value) {
      if (key === HEADERS_KEY) return;
      let stored = String(value);
      if (JSON_KEYS.has(key)) {
        stored = withoutHeaders(stored);
        // Not JSON: GraphiQL would not read it back anyway; store nothing rather than guess.
        if (stored === null) return backing.removeItem(PREFIX + key);
      }
      backing.setItem(PREFIX + key, stored);
    },
    removeItem: (key) => backing.removeItem(PREFIX + key),
    get length() {
      return own().length;
    },
    // "Clear storage" in GraphiQL's settings: this endpoint's keys only.
    clear() {
      for (const key of own()) backing.removeItem(key);
    },
  };
}

/** GraphiQL's store, or null (GraphiQL then keeps state in memory) if the browser refuses. */
function graphiqlStorage() {
  try {
    const backing = window.sessionStorage;
    const probe = `${PREFIX}probe`;
    backing.setItem(probe, '1');
    backing.removeItem(probe);
    return endpointStorage(backing);
  } catch {
    return null;
  }
}

// Earlier builds let GraphiQL write to localStorage under `graphiql:`, headers (admin key,
// Bearer tokens) included. Nothing writes there any more: remove what they left.
try {
  const stale = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key !== null && key.startsWith('graphiql:')) stale.push(key);
  }
  for (const key of stale) localStorage.removeItem(key);
} catch {
  // No localStorage: nothing was left there either.
}

createRoot(root).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery,
    storage: graphiqlStorage(),
    // The headers pane is where a visitor pastes `Authorization: Bearer …` for `me`.
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
    // Also hides the settings switch that would turn persisting headers on; the store above
    // drops headers either way.
    shouldPersistHeaders: false,
  }),
);
