/** Typed intents as users write them: this file must compile without a single diagnostic. */
import { GateClient, intent, target, type Decision, type Intent, type IntentTarget } from "@gait-gate/client";

const gate = new GateClient({ target: "unix:///nonexistent/gate.sock" });
const ctx = { identity: "alice", workspace: "/workspace", risk_class: "low" } as const;

// an inline literal in the call
export const a: Promise<Decision> = gate.evaluate({
  intent: {
    tool_name: "tool.read",
    args: { path: "/workspace/README.md" },
    targets: [{ kind: "path", value: "/workspace/README.md", operation: "read" }],
    context: ctx,
  },
});

// built apart, with the helpers; operations and risk classes are open (a policy may match "deploy")
const deploy: Intent = intent({
  tool_name: "tool.deploy",
  targets: [target("host", "api.example.com", "deploy", { endpoint_class: "net.http" }), target("repo", "acme/api")],
  context: { ...ctx, risk_class: "elevated", phase: "plan", sandbox: { network_mode: "egress_allowlist" } },
  created_at: new Date(0),
});
export const b: Promise<Decision> = gate.evaluate({ intent: deploy, runId: "run-1" });

// raw JSON of unknown shape goes through intentJson (checked at run time)
const fromFile: unknown = JSON.parse('{"tool_name":"tool.read","context":{"identity":"a","workspace":"/w","risk_class":"low"}}');
export const c: Promise<Decision> = gate.evaluate({ intentJson: fromFile as Record<string, never> });
export const d: Promise<Decision> = gate.evaluate({ intentJson: '{"tool_name":"tool.read"}' });

export const targets: IntentTarget[] = [{ kind: "url", value: "https://example.com", operation: "get", discovery_method: "webmcp" }];
export const printed: Promise<string> = a.then((x) => `${x}`);
