/**
 * A guard for Struct-typed intent fields (args, relationship, context.auth_context, script steps' args).
 * protobuf-es represents google.protobuf.Struct fields as plain JSON objects and converts them with assignments
 * (`fields[k] = v`), so a key named `__proto__` becomes the prototype of the map object and is dropped from the
 * encoded request: the gate would decide on arguments without it while the tool runs with it. Such an intent is
 * refused here (the caller fails closed); a tool call sent as JSON text (`toolCall`) keeps every key.
 */

/** The JSON path of the first member named `__proto__` in `v`, or undefined. */
export function protoKeyPath(v: unknown, path = ""): string | undefined {
  if (v === null || typeof v !== "object") return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = protoKeyPath(v[i], `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  for (const k of Object.keys(v)) {
    const here = path ? `${path}.${k}` : k;
    if (k === "__proto__") return here;
    const p = protoKeyPath((v as Record<string, unknown>)[k], here);
    if (p) return p;
  }
  return undefined;
}
