// The one way the console talks to latchkey: a GraphQL POST to this origin. Every failure
// becomes an ApiError with the code the API answered (extensions.code), so a screen can show
// it; nothing is thrown past a screen as a bare exception.

export type ErrorInfo = {
  code: string;
  message: string;
  field?: string;
  retryAfter?: number;
};

export class ApiError extends Error {
  readonly errors: ErrorInfo[];
  constructor(errors: ErrorInfo[]) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
  }
  get code(): string {
    return this.errors[0]?.code ?? "INTERNAL";
  }
  /** Messages of BAD_USER_INPUT errors by input field, for the form that sent them. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.errors) if (e.field) out[e.field] = e.message;
    return out;
  }
}

/** How a console reaches its API: the endpoint, the credential, what to do when it is refused. */
export type Transport = {
  endpoint: string;
  credential: () => Promise<string | null>;
  /** A refused credential: get a fresh one if possible (true: worth retrying once). */
  renew?: () => Promise<boolean>;
  onUnauthenticated: () => void;
};

type Answer<Q> = {
  data?: Q | null;
  errors?: { message: string; extensions?: { code?: string; field?: string; retryAfter?: number } }[];
};

export async function gql<Q, V extends object = Record<string, never>>(
  t: Transport,
  query: string,
  variables?: V,
): Promise<Q> {
  try {
    return await once<Q, V>(t, query, variables);
  } catch (e) {
    // An access token refused (expired early by a slow clock, or signed by a key an emergency
    // rotation revoked): one refresh and one retry before the page says the sign-in ended.
    if (e instanceof ApiError && refused(e) && t.renew && (await t.renew())) {
      try {
        return await once<Q, V>(t, query, variables);
      } catch (again) {
        if (again instanceof ApiError && refused(again)) t.onUnauthenticated();
        throw again;
      }
    }
    if (e instanceof ApiError && refused(e)) t.onUnauthenticated();
    throw e;
  }
}

function refused(e: ApiError): boolean {
  return e.errors.some((x) => x.code === "UNAUTHENTICATED" || x.code === "INVALID_TOKEN");
}

async function once<Q, V extends object>(t: Transport, query: string, variables?: V): Promise<Q> {
  const credential = await t.credential();
  let res: Response;
  try {
    res = await fetch(t.endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json",
        ...(credential ? { authorization: `Bearer ${credential}` } : {}),
      },
      body: JSON.stringify({ query, variables: variables ?? {} }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError([{ code: "NETWORK", message: "latchkey did not answer (network error)." }]);
  }
  let body: Answer<Q>;
  try {
    body = (await res.json()) as Answer<Q>;
  } catch {
    throw new ApiError([
      {
        code: res.status === 503 ? "SERVICE_UNAVAILABLE" : "INTERNAL",
        message: `latchkey answered ${res.status} without a GraphQL body.`,
      },
    ]);
  }
  if (body.errors && body.errors.length > 0) {
    const errors = body.errors.map((e) => ({
      code: e.extensions?.code ?? "INTERNAL",
      message: e.message,
      field: e.extensions?.field,
      retryAfter: e.extensions?.retryAfter,
    }));
    throw new ApiError(errors);
  }
  if (!body.data) {
    throw new ApiError([{ code: "INTERNAL", message: `latchkey answered ${res.status} with no data.` }]);
  }
  return body.data;
}

/** What a person should read for an error, by its code. */
export function describe(e: unknown): string {
  if (!(e instanceof ApiError)) return `Something went wrong: ${String(e)}`;
  const first = e.errors[0];
  switch (e.code) {
    case "FORBIDDEN":
      return "You are not allowed to do this (FORBIDDEN).";
    case "RATE_LIMITED":
      return `Too many requests; try again${first?.retryAfter ? ` in ${first.retryAfter} s` : " shortly"} (RATE_LIMITED).`;
    case "SERVICE_UNAVAILABLE":
      return "latchkey is unavailable at the moment; nothing was changed. Try again shortly (SERVICE_UNAVAILABLE).";
    case "UNAUTHENTICATED":
    case "INVALID_TOKEN":
      return "Your sign-in has ended; sign in again.";
    case "NETWORK":
      return first.message;
    default:
      return `${e.errors.map((x) => x.message).join("; ")} (${e.code}).`;
  }
}
