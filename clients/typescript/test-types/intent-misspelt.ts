/**
 * Mistakes that must NOT compile. Each line marked `// expect-error TS<code> <text>` must get exactly one
 * diagnostic, with that code and containing that text (test/integration/clients-ts-types.test.ts), and no other line may get one.
 */
import { GateClient, intent, target } from "@gait-gate/client";

const gate = new GateClient();
const context = { identity: "alice", workspace: "/workspace", risk_class: "low" } as const;

void gate.evaluate({ intent: { tool_nmae: "tool.read", context } }); // expect-error TS2561 'tool_nmae' does not exist in type 'Intent'. Did you mean to write 'tool_name'?
void gate.evaluate({ intent: { tool_name: "tool.read", context: { ...context, identiy: "bob" } } }); // expect-error TS2561 'identiy' does not exist in type 'IntentContext'. Did you mean to write 'identity'?
void gate.evaluate({ intent: { tool_name: "tool.read", targets: [{ kind: "pth", value: "/a" }], context } }); // expect-error TS2820 Type '"pth"' is not assignable to type 'TargetKind'. Did you mean '"path"'?
void gate.evaluate({ intent: { tool_name: "tool.read", targets: [{ kind: "path", value: "/a", opration: "read" }], context } }); // expect-error TS2561 'opration' does not exist in type 'IntentTarget'. Did you mean to write 'operation'?
void gate.evaluate({ intent: { tool_name: "tool.read", context: { ...context, phase: "applied" } } }); // expect-error TS2322 Type '"applied"' is not assignable to type 'Phase | undefined'.
void gate.evaluate({ intent: { tool_name: "tool.read" } }); // expect-error TS2741 Property 'context' is missing
void intent({ tool_name: "tool.read", context, arg_provenance: [{ arg_path: "a", source: "usr" }] }); // expect-error TS2820 Type '"usr"' is not assignable to type 'ProvenanceSource'. Did you mean '"user"'?
void target("file", "/a"); // expect-error TS2345 Argument of type '"file"' is not assignable to parameter of type 'TargetKind'.
void gate.evaluate({ toolcall: { adapter: "mcp", call: {} } }); // expect-error TS2561 'toolcall' does not exist in type 'GateCall'. Did you mean to write 'toolCall'?
