// The API a screen calls, provided by its console (tenant or platform).
import { createContext } from "preact";
import { useContext } from "preact/hooks";

export type Api = {
  /** Runs the named operation with its variables. */
  q: <Q, V extends object = Record<string, never>>(name: string, variables?: V) => Promise<Q>;
};

export const ApiContext = createContext<Api | null>(null);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error("no API in context");
  return api;
}
