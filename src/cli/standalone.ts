/**
 * Entry point of the self-contained executable (`make dist`, scripts/build-dist.mjs): the whole CLI and the
 * service in one file, with the version and policy templates embedded (src/cli/assets.ts). `gait mcp serve` is
 * imported on demand, so the one-shot commands never evaluate the gRPC stack.
 */
import { main, setServeLoader } from "./main.js";
import { setOperatorClientLoader } from "./operator-target.js";

interface BunRuntime {
  unsafe?: { setJITPolicy?: (scale: number) => void };
}

setServeLoader(() => {
  // The executable starts with JIT tier-up thresholds scaled up for one-shot commands (scripts/build-dist.mjs); a
  // long-running service wants the normal policy back.
  (globalThis as { Bun?: BunRuntime }).Bun?.unsafe?.setJITPolicy?.(1);
  return import("../main/serve.js");
});
// the operator commands' gRPC client, bundled in (there are no files beside the executable)
setOperatorClientLoader(() => import("../transport/grpc/operator-client.js"));
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
