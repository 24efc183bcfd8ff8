// What every screen shares: loading with errors in the page, forms with the server's field
// messages, confirmations, the copy button, paging by cursor, dates.
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, describe } from "./api";

/** A page-level message: errors are `role="alert"` so screen readers hear them. */
export function Banner(props: { error?: unknown; ok?: string | null }) {
  if (props.error) {
    const code = props.error instanceof ApiError ? props.error.code : "ERROR";
    return (
      <div class="banner error" role="alert" data-code={code}>
        {describe(props.error)}
      </div>
    );
  }
  if (props.ok) {
    return (
      <div class="banner ok" role="status">
        {props.ok}
      </div>
    );
  }
  return null;
}

export type Loaded<T> = {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
};

/** Loads `load()` when `deps` change; a failure is kept as `error` for the page to show. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
      (d) => {
        if (live) {
          setData(d);
          setError(null);
          setLoading(false);
        }
      },
      (e) => {
        if (live) {
          setError(e);
          setLoading(false);
        }
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** An action with its progress and outcome: `run` disables the button while it works. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [ok, setOk] = useState<string | null>(null);
  const run = useCallback(async <T,>(work: () => Promise<T>, done?: string): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    setOk(null);
    try {
      const r = await work();
      if (done) setOk(done);
      return r;
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  const fields = error instanceof ApiError ? error.fieldErrors() : {};
  return { busy, error, ok, run, fields, setOk, setError };
}

export function Loading(props: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {props.what}…
    </p>
  );
}

export function Button(
  props: JSX.ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; kind?: "primary" | "danger" | "plain" },
) {
  const { busy, kind, children, ...rest } = props;
  return (
    <button
      type="button"
      {...rest}
      class={`btn ${kind ?? "plain"}`}
      disabled={busy || (rest.disabled as boolean | undefined)}
      aria-busy={busy ? "true" : undefined}
    >
      {busy ? "Working…" : children}
    </button>
  );
}

let fieldIds = 0;

/** A labelled input with its hint and the server's message for it. */
export function Field(props: {
  label: string;
  name: string;
  value: string;
  onInput: (v: string) => void;
  error?: string;
  hint?: string;
  type?: string;
  required?: boolean;
  multiline?: boolean;
  autoComplete?: string;
}) {
  const id = useRef(`f${++fieldIds}`).current;
  const described = [props.hint ? `${id}-hint` : "", props.error ? `${id}-err` : ""].filter(Boolean).join(" ");
  const common = {
    id,
    name: props.name,
    value: props.value,
    required: props.required,
    "aria-invalid": props.error ? ("true" as const) : undefined,
    "aria-describedby": described || undefined,
    onInput: (e: Event) => props.onInput((e.target as HTMLInputElement).value),
  };
  return (
    <div class={`field${props.error ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.multiline ? (
        <textarea rows={3} {...common} />
      ) : (
        <input type={props.type ?? "text"} autoComplete={props.autoComplete ?? "off"} {...common} />
      )}
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="field-error" id={`${id}-err`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

export function Check(props: { label: string; name: string; checked: boolean; onChange: (v: boolean) => void; error?: string }) {
  const id = useRef(`c${++fieldIds}`).current;
  return (
    <div class="field check">
      <label>
        <input
          type="checkbox"
          name={props.name}
          aria-invalid={props.error ? "true" : undefined}
          aria-describedby={props.error ? `${id}-err` : undefined}
          checked={props.checked}
          onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)}
        />{" "}
        {props.label}
      </label>
      {props.error && (
        <p class="field-error" id={`${id}-err`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

export function Select<T extends string>(props: {
  label: string;
  name: string;
  value: T;
  options: { value: T; label: string }[];
  onChange: (v: T) => void;
  error?: string;
}) {
  const id = useRef(`s${++fieldIds}`).current;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        value={props.value}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={props.error ? `${id}-err` : undefined}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value as T)}
      >
        {props.options.map((o) => (
          <option value={o.value}>{o.label}</option>
        ))}
      </select>
      {props.error && (
        <p class="field-error" id={`${id}-err`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/**
 * A confirmation that names what it acts on; the native modal dialog keeps focus inside and
 * closes on Escape, so it works from the keyboard.
 */
export function Confirm(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  action: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useRef(`dialog${++fieldIds}`).current;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby={id} onCancel={(e) => (e.preventDefault(), props.onCancel())}>
      <h2 id={id}>{props.title}</h2>
      <div class="dialog-body">{props.children}</div>
      <div class="actions">
        <Button kind="danger" busy={props.busy} onClick={props.onConfirm}>
          {props.action}
        </Button>
        {/* Focus starts on Cancel: Enter on an opened confirmation must not destroy anything. */}
        <Button onClick={props.onCancel} autoFocus>
          Cancel
        </Button>
      </div>
    </dialog>
  );
}

/** A secret shown once, with a copy button; it is gone when the page changes. */
export function SecretOnce(props: { label: string; secret: string }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied("Copied to the clipboard.");
    } catch {
      setCopied("The browser refused the clipboard: select the text and copy it.");
    }
  };
  return (
    <section class="secret" aria-label={props.label}>
      <p>
        <strong>{props.label}</strong> — shown this once; latchkey keeps only a hash of it.
      </p>
      <code class="secret-value">{props.secret}</code>
      <Button kind="primary" onClick={copy}>
        Copy
      </Button>
      {copied && (
        <span role="status" class="hint">
          {" "}
          {copied}
        </span>
      )}
    </section>
  );
}

/** Paging by cursor: `after` of each page is remembered, so Previous goes back exactly. */
export function usePager() {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const after = stack[stack.length - 1];
  return {
    after,
    page: stack.length,
    next: (cursor: string | null) => cursor && setStack((s) => [...s, cursor]),
    prev: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([null]),
  };
}

export function Pager(props: {
  pager: ReturnType<typeof usePager>;
  shown: number;
  pageSize: number;
  total: number;
  hasNext: boolean;
  endCursor: string | null;
  noun: string;
}) {
  const { pager } = props;
  const from = props.shown === 0 ? 0 : (pager.page - 1) * props.pageSize + 1;
  const to = (pager.page - 1) * props.pageSize + props.shown;
  return (
    <nav class="pager" aria-label={`${props.noun} pages`}>
      <span role="status">
        {props.total === 0 ? `No ${props.noun}` : `${from}–${to} of ${props.total} ${props.noun}`}
      </span>
      <Button onClick={pager.prev} disabled={pager.page === 1}>
        Previous
      </Button>
      <Button onClick={() => pager.next(props.endCursor)} disabled={!props.hasNext}>
        Next
      </Button>
    </nav>
  );
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** Splits a list typed one per line (or separated by commas). */
export function lines(s: string): string[] {
  return s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);
}
