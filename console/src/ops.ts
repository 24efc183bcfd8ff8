// The operations' text, one at a time: each request carries only its own operation and the
// fragments it spreads (the server's cost guard then judges what runs, nothing more).
import tenantDoc from "./ops/tenant.graphql";
import platformDoc from "./ops/platform.graphql";

function blocks(doc: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const block of doc.split(/\n\s*\n/)) {
    const text = block
      .split("\n")
      .filter((l) => !l.trimStart().startsWith("#"))
      .join("\n")
      .trim();
    const m = /^(?:query|mutation|fragment)\s+(\w+)/.exec(text);
    if (m) out.set(m[1], text);
  }
  return out;
}

function picker(doc: string) {
  const all = blocks(doc);
  return (name: string): string => {
    const op = all.get(name);
    if (!op) throw new Error(`no operation ${name}`);
    const used = new Set<string>();
    const visit = (text: string) => {
      for (const m of text.matchAll(/\.\.\.(\w+)/g)) {
        if (!used.has(m[1])) {
          used.add(m[1]);
          visit(all.get(m[1]) ?? "");
        }
      }
    };
    visit(op);
    return [op, ...[...used].map((f) => all.get(f) ?? "")].join("\n");
  };
}

export const tenantOp = picker(tenantDoc);
export const platformOp = picker(platformDoc);
