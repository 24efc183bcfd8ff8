// Screens by the address's fragment (`#/users/ID`, `#/audit?user=ID`): one server path per
// console, and the browser's back button moves between screens.
import { useEffect, useState } from "preact/hooks";

export type Route = { path: string[]; params: URLSearchParams };

function parse(): Route {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?", 2);
  let parts: string[];
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    // A malformed escape in a typed address: a screen that does not exist, not a crash.
    parts = ["not-found"];
  }
  return { path: parts, params: new URLSearchParams(query ?? "") };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => {
      setRoute(parse());
      // A new screen starts at its heading for keyboard and screen-reader users.
      requestAnimationFrame(() => document.querySelector<HTMLElement>("main h1")?.focus());
    };
    addEventListener("hashchange", on);
    // The address may have changed before this listener existed (the sign-in's return).
    setRoute(parse());
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function go(path: string) {
  location.hash = `#/${path}`;
}
