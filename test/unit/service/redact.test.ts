import { describe, expect, it } from "vitest";
import { REDACTED, redactCall, redactString } from "../../../src/service/redact.js";
import type { IntentRequest } from "../../../src/engine/types.js";

describe("redacted view of a waiting call", () => {
  it("hides values under secret-looking keys, whole", () => {
    const v = redactCall({ tool_name: "t", args: { password: "x", nested: { api_key: { a: 1 }, Session_Id: "s" }, path: "/etc/x" }, targets: [] } as unknown as IntentRequest);
    expect(v.args).toEqual({ nested: { Session_Id: REDACTED, api_key: REDACTED }, password: REDACTED, path: "/etc/x" });
  });

  it("hides credentials inside strings: bearer tokens, URL user info and query, long opaque runs", () => {
    expect(redactString("Authorization: Bearer abc.def")).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactString("https://u:p@h.example/a?x=1#f")).toBe(`https://${REDACTED}@h.example/a?${REDACTED}#f`);
    expect(redactString("id AKIAABCDEFGHIJKLMNOPQRSTUVWXYZ012345 end")).toBe(`id ${REDACTED} end`);
    expect(redactString("plain words stay")).toBe("plain words stay");
  });

  it("bounds size: long strings cut, deep nesting and long lists summarized", () => {
    expect(redactString("a ".repeat(300))).toMatch(/… \(600 characters\)$/);
    const deep = redactCall({ tool_name: "t", args: { a: { b: { c: { d: { e: 1 } } } }, l: Array.from({ length: 60 }, (_, i) => i) }, targets: [{ kind: "url", value: "https://x.example/?t=1", operation: "read" }] } as unknown as IntentRequest);
    expect(deep.args).toMatchObject({ a: { b: { c: { d: "{…}" } } } });
    expect((deep.args as { l: unknown[] }).l).toHaveLength(51);
    expect(deep.targets).toEqual([{ kind: "url", value: `https://x.example/?${REDACTED}`, operation: "read" }]);
  });
});
