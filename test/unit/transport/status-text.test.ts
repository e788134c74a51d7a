import { describe, expect, it } from "vitest";
import { statusText } from "../../../src/transport/grpc/adapter.js";

describe("statusText", () => {
  it("repairs lone surrogates (encodeURIComponent would throw and grpc-js drop the connection) and bounds the length", () => {
    const cut = "bad token \ud83c"; // half of a surrogate pair, as an error message slicing client input can leave
    expect(() => encodeURIComponent(cut)).toThrow(URIError);
    expect(() => encodeURIComponent(statusText(cut))).not.toThrow();
    expect(statusText("x".repeat(5000)).length).toBeLessThan(1100);
    expect(statusText("fine")).toBe("fine");
  });
});
