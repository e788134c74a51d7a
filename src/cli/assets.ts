/**
 * The `policy init` templates the CLI ships with: embedded in the self-contained executable, else read from
 * policies/templates/ in the project tree (see src/infra/version.ts for how the embedding works).
 */
import { readFileSync } from "node:fs";
import { embeddedAssets, findProjectFile } from "../infra/version.js";

export { findProjectFile, producerVersion } from "../infra/version.js";

/** A `policy init` template's text: embedded, else policies/templates/<name>.yaml; undefined when missing. */
export function policyTemplate(name: string): string | undefined {
  const embedded = embeddedAssets();
  if (embedded) return embedded.templates[name];
  const file = findProjectFile(`policies/templates/${name}.yaml`);
  return file ? readFileSync(file, "utf8") : undefined;
}
