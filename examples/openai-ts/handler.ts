/**
 * An OpenAI-style tool-call handler gated by gait: for each `tool_calls` entry of an assistant message, the raw call
 * is sent to the gate (adapter "openai") and the tool runs only on `allow`. Every other outcome, including the gate
 * being down, becomes a tool message telling the model the call was refused, so the conversation can go on safely.
 *
 *   GAIT_SOCKET=unix:///path/to/gate.sock npx bun examples/openai-ts/handler.ts   (or import handleToolCalls)
 *
 * (bun, a pinned dev dependency of this repository, runs TypeScript directly; Node 20 cannot.)
 */
import { GateClient, type Decision } from "../../clients/typescript/src/index.js";

/** The shape of one entry of `choices[0].message.tool_calls` in the OpenAI chat API. */
export interface OpenAIToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** The tool message to append to the conversation. */
export interface ToolMessage {
  role: "tool";
  tool_call_id: string;
  content: string;
}

export type ToolImpl = (args: Record<string, unknown>) => Promise<string> | string;

function refusal(d: Decision): string {
  return JSON.stringify({ refused: true, verdict: d.verdict, reason_codes: d.reasonCodes, approval_request_id: d.approvalRequestId || undefined });
}

/** Runs the allowed tool calls, in order, and answers every call with one tool message. */
export async function handleToolCalls(gate: GateClient, calls: readonly OpenAIToolCall[], tools: Record<string, ToolImpl>): Promise<ToolMessage[]> {
  const out: ToolMessage[] = [];
  for (const call of calls) {
    const impl = tools[call.function.name];
    const outcome = await gate.guard({ toolCall: { adapter: "openai", call: { ...call } } }, async () => {
      if (!impl) throw new Error(`no tool named ${call.function.name}`);
      return impl(JSON.parse(call.function.arguments || "{}") as Record<string, unknown>);
    });
    out.push({ role: "tool", tool_call_id: call.id, content: outcome.executed ? outcome.value : refusal(outcome.decision) });
  }
  return out;
}

// Run directly: a scripted assistant turn against the gate named by GAIT_SOCKET.
if (import.meta.url === `file://${process.argv[1]}`) {
  const gate = new GateClient();
  const turn: OpenAIToolCall[] = [
    { id: "call_1", type: "function", function: { name: "tool.read", arguments: '{"path":"/workspace/README.md"}' } },
    { id: "call_2", type: "function", function: { name: "tool.exec", arguments: '{"command":"rm -rf /"}' } },
  ];
  const messages = await handleToolCalls(gate, turn, {
    "tool.read": ({ path }) => `<contents of ${String(path)}>`,
    "tool.exec": ({ command }) => `ran ${String(command)}`,
  });
  for (const m of messages) console.log(JSON.stringify(m));
  gate.close();
}
