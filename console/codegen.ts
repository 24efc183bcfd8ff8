// GraphQL types for the console, generated from the schema files the server exports
// (`cargo run -- schema export`): an operation that no longer fits the schema fails here,
// and a field the screens use that the operations lack fails the type check.
import type { CodegenConfig } from "@graphql-codegen/cli";

const shared = {
  plugins: ["typescript", "typescript-operations"],
  config: {
    onlyOperationTypes: true,
    avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false, variableValue: false },
    enumsAsTypes: true,
    scalars: { DateTime: "string", JSON: "unknown", ID: "string" },
  },
};

const config: CodegenConfig = {
  overwrite: true,
  silent: true,
  generates: {
    "src/gql/tenant.ts": { schema: "../schema/tenant.graphql", documents: "src/ops/tenant.graphql", ...shared },
    "src/gql/platform.ts": { schema: "../schema/platform.graphql", documents: "src/ops/platform.graphql", ...shared },
  },
};
export default config;
