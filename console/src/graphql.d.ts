// esbuild loads .graphql files as text (build.mjs).
declare module "*.graphql" {
  const text: string;
  export default text;
}
