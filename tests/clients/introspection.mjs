// The tenant schema as a GraphQL client sees it: graphql-js's introspection query (the one
// GraphiQL, codegen and Apollo tooling send) posted to $LATCHKEY_URL/graphql, the answer
// rebuilt with buildClientSchema, and the printed result compared with the checked-in SDL
// (schema/tenant.graphql) parsed by graphql-js's buildSchema. Both are sorted
// (lexicographicSortSchema) so only content, not order, counts; descriptions count. Each
// endpoint is asked twice: with the query's default options, and with every option on
// (specifiedByURL, isRepeatable, the schema's description, deprecated input values).
// With ADMIN_API_KEY set, the platform API (/admin/graphql) is compared with
// schema/platform.graphql the same way.
//
//   LATCHKEY_URL=http://127.0.0.1:PORT [ADMIN_API_KEY=...] node introspection.mjs
//
// Exit status 1 on any GraphQL error, a schema graphql-js cannot rebuild, or a difference.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  GraphQLSchema,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';

const BASE = process.env.LATCHKEY_URL?.replace(/\/+$/, '');
if (!BASE) {
  console.error('introspection: LATCHKEY_URL must point at a running latchkey');
  process.exit(2);
}
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const targets = [{ path: '/graphql', sdl: 'schema/tenant.graphql', headers: {} }];
if (process.env.ADMIN_API_KEY) {
  targets.push({
    path: '/admin/graphql',
    sdl: 'schema/platform.graphql',
    headers: { authorization: `Bearer ${process.env.ADMIN_API_KEY}` },
  });
}

const variants = [
  { name: 'default options', options: {} },
  {
    name: 'all options',
    options: {
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
    },
  },
];

async function introspect(path, headers, options) {
  const res = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: {
      ...headers,
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
    },
    body: JSON.stringify({ query: getIntrospectionQuery(options), operationName: 'IntrospectionQuery' }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (body.errors?.length) {
    throw new Error(`HTTP ${res.status}, errors: ${JSON.stringify(body.errors)}`);
  }
  if (!res.ok || !body.data?.__schema) {
    throw new Error(`HTTP ${res.status}, no data.__schema: ${text.slice(0, 300)}`);
  }
  return body.data;
}

/** Line diff (LCS), printed as unified hunks with 3 lines of context. */
function unifiedDiff(a, b, labelA, labelB) {
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops = []; // [kind, line, indexA, indexB]
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push([' ', a[i], i++, j++]);
    else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push(['-', a[i], i++, j]);
    else ops.push(['+', b[j], i, j++]);
  }
  const out = [`--- ${labelA}`, `+++ ${labelB}`];
  const CONTEXT = 3;
  let k = 0;
  while (k < ops.length) {
    if (ops[k][0] === ' ') {
      k++;
      continue;
    }
    let start = Math.max(0, k - CONTEXT);
    let end = k;
    // Extend the hunk while changes are closer than 2*CONTEXT apart.
    while (end < ops.length) {
      if (ops[end][0] !== ' ') {
        end++;
        continue;
      }
      let run = end;
      while (run < ops.length && ops[run][0] === ' ') run++;
      if (run === ops.length || run - end > 2 * CONTEXT) {
        end = Math.min(ops.length, end + CONTEXT);
        break;
      }
      end = run;
    }
    const hunk = ops.slice(start, end);
    const aLen = hunk.filter((o) => o[0] !== '+').length;
    const bLen = hunk.filter((o) => o[0] !== '-').length;
    out.push(`@@ -${hunk[0][2] + 1},${aLen} +${hunk[0][3] + 1},${bLen} @@`);
    for (const [kind, line] of hunk) out.push(`${kind}${line}`);
    k = end;
  }
  return out.join('\n');
}

// What an introspection query did not ask for cannot be in its answer: without
// `schemaDescription` the schema's description is absent, without `specifiedByUrl` the
// scalars' @specifiedBy. Compare the file with those left out the same way.
function asRequested(schema, options) {
  const config = schema.toConfig();
  if (!options.schemaDescription) config.description = undefined;
  let printed = printSchema(lexicographicSortSchema(new GraphQLSchema(config)));
  if (!options.specifiedByUrl) printed = printed.replace(/ @specifiedBy\(url: "[^"]*"\)/g, '');
  return printed;
}

let failed = false;
for (const { path, sdl, headers } of targets) {
  let fileSchema;
  try {
    fileSchema = buildSchema(readFileSync(resolve(ROOT, sdl), 'utf8'));
  } catch (err) {
    console.log(`introspection: graphql-js cannot build ${sdl}: ${err.message}`);
    failed = true;
    continue;
  }
  for (const { name, options } of variants) {
    const expected = asRequested(fileSchema, options);
    const label = `introspection ${path} (${name})`;
    let served;
    try {
      served = buildClientSchema(await introspect(path, headers, options));
    } catch (err) {
      console.log(`${label}: FAILED: ${err.message}`);
      failed = true;
      continue;
    }
    const actual = printSchema(lexicographicSortSchema(served));
    const types = Object.keys(served.getTypeMap()).filter((t) => !t.startsWith('__')).length;
    if (actual === expected) {
      console.log(`${label}: ${types} types, matches ${sdl}`);
    } else {
      console.log(`${label}: ${types} types, DIFFERS from ${sdl}:`);
      console.log(unifiedDiff(expected.split('\n'), actual.split('\n'), sdl, `${BASE}${path} (introspection)`));
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
