/** vitest globalSetup of the suites that run the self-contained executable: build it once (see exe.ts). */
import { ensureDistBuilt } from "./exe.js";

export default function setup(): void {
  ensureDistBuilt();
}
