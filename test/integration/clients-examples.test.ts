/**
 * The client examples against the real server: examples/openai-ts (imported here). The package build and the
 * README example run from the packed tarball in clients-ts-package.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { GateClient } from "../../clients/typescript/src/index.js";
import { handleToolCalls, type OpenAIToolCall } from "../../examples/openai-ts/handler.js";
import { startRealServer, tempDir, type RealServer } from "../conformance/clients/harness.js";

const TURN: OpenAIToolCall[] = [
  { id: "call_1", type: "function", function: { name: "tool.read", arguments: '{"path":"/workspace/README.md"}' } },
  { id: "call_2", type: "function", function: { name: "tool.exec", arguments: '{"command":"rm -rf /"}' } },
  { id: "call_3", type: "function", function: { name: "tool.deploy", arguments: '{"service":"web"}' } },
];

describe("examples/openai-ts against the real server", () => {
  let server: RealServer | undefined;
  let startError: unknown;
  beforeAll(async () => {
    try {
      server = await startRealServer();
    } catch (e) {
      startError = e; // the test FAILS with it; never skipped
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("runs only the allowed tool call and refuses the others", async () => {
    if (startError) throw startError;
    const ran: string[] = [];
    const gate = new GateClient({ target: `unix://${server!.socket}` });
    try {
      const msgs = await handleToolCalls(gate, TURN, {
        "tool.read": ({ path }) => (ran.push("read"), `<contents of ${String(path)}>`),
        "tool.exec": () => (ran.push("exec"), "ran"),
        "tool.deploy": () => (ran.push("deploy"), "deployed"),
      });
      expect(ran).toEqual(["read"]);
      expect(msgs.map((m) => m.tool_call_id)).toEqual(["call_1", "call_2", "call_3"]);
      expect(msgs[0]!.content).toBe("<contents of /workspace/README.md>");
      expect(JSON.parse(msgs[1]!.content)).toMatchObject({ refused: true, verdict: "block" });
      expect(JSON.parse(msgs[2]!.content)).toMatchObject({ refused: true, verdict: "dry_run", reason_codes: ["deploy_dry_run"] });
    } finally {
      gate.close();
    }
  });

  it("refuses every call when the gate is unreachable", async () => {
    const dir = tempDir("gait-ex-");
    const gate = new GateClient({ target: `unix://${join(dir, "absent.sock")}`, onFailClosed: () => {} });
    try {
      const ran: string[] = [];
      const msgs = await handleToolCalls(gate, TURN, { "tool.read": () => (ran.push("read"), "x") });
      expect(ran).toEqual([]);
      for (const m of msgs) expect(JSON.parse(m.content)).toMatchObject({ refused: true, verdict: "block", reason_codes: ["fail_closed_unavailable"] });
      expect(gate.failClosedTotal).toBe(3);
    } finally {
      gate.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
