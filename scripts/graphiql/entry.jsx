// GraphiQL for latchkey, bundled with React by scripts/vendor-assets.sh into
// assets/graphiql/graphiql.js. The page (src/http/graphiql.rs) carries its settings as
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

createRoot(root).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery,
    // The headers pane is where a visitor pastes `Authorization: Bearer …` for `me`.
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
    // Tokens typed into the headers pane must not linger in localStorage.
    shouldPersistHeaders: false,
  }),
);
