#!/usr/bin/env node
// A deliberately broken gait.gate.v1.GateService for the client fault cases (cases.yaml, `fake:` cases).
// Plain JavaScript so the TypeScript, Python and Go test runners all start the same binary:
//
//   node test/conformance/clients/fake-server.mjs --mode <mode> --listen unix:///abs.sock|127.0.0.1:0 [--token T]
//
// It prints "READY <address>" on stdout once it accepts calls (for TCP port 0 the address has the real port).
// Modes (Evaluate only; every other method is UNIMPLEMENTED):
//   allow        answers VERDICT_ALLOW [fake_allow] (with --token: UNAUTHENTICATED unless "authorization: Bearer T")
//   dry_run      answers VERDICT_DRY_RUN [fake_dry_run]
//   hang         accepts the call and never answers (the client's deadline must fire)
//   silent       a raw socket that accepts connections and never speaks HTTP/2
//   unspecified  answers VERDICT_UNSPECIFIED (an empty message)
//   unknown      answers verdict 99, a value no client knows
//   malformed    answers bytes that are not an EvaluateResponse
//   internal     fails with INTERNAL and a google.rpc.ErrorInfo{reason: "INTERNAL", domain: "gate.gait.v1"}
//   kill         SIGKILLs its own process when a call arrives (server killed mid-call)
//   stale        binds the socket, then SIGKILLs itself: the socket file stays with nobody listening
import * as grpc from "@grpc/grpc-js";
import { createServer } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { mode: { type: "string" }, listen: { type: "string" }, token: { type: "string" } } });
const mode = values.mode;
const listen = values.listen;
if (!mode || !listen) {
  console.error("usage: fake-server.mjs --mode <mode> --listen unix:///abs.sock|host:port [--token T]");
  process.exit(2);
}

// --- minimal protobuf encoding (no generated code needed for these few fields) ---
function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
const tag = (field, wire) => varint((field << 3) | wire);
const vint = (field, n) => Buffer.concat([tag(field, 0), varint(n)]);
const bytes = (field, b) => Buffer.concat([tag(field, 2), varint(b.length), b]);
const str = (field, s) => bytes(field, Buffer.from(s, "utf8"));

// EvaluateResponse: verdict = 1, reason_codes = 2, trace_id = 14.
const evaluateResponse = (verdict, reasons) =>
  Buffer.concat([verdict ? vint(1, verdict) : Buffer.alloc(0), ...reasons.map((r) => str(2, r)), str(14, "fake000000000000000000000")]);

function errorInfoStatus(code, message, reason) {
  const info = Buffer.concat([str(1, reason), str(2, "gate.gait.v1")]);
  const any = Buffer.concat([str(1, "type.googleapis.com/google.rpc.ErrorInfo"), bytes(2, info)]);
  return Buffer.concat([vint(1, code), str(2, message), bytes(3, any)]);
}

function gateError(code, message, reason) {
  const md = new grpc.Metadata();
  md.set("grpc-status-details-bin", errorInfoStatus(code, message, reason));
  return { code, details: message, metadata: md };
}

function evaluate(call, callback) {
  switch (mode) {
    case "allow": {
      if (values.token !== undefined) {
        const got = call.metadata.get("authorization")[0];
        if (got !== `Bearer ${values.token}`) {
          callback(gateError(grpc.status.UNAUTHENTICATED, "missing or wrong bearer token", "UNAUTHENTICATED"));
          return;
        }
      }
      callback(null, evaluateResponse(1, ["fake_allow"]));
      return;
    }
    case "dry_run":
      callback(null, evaluateResponse(4, ["fake_dry_run"]));
      return;
    case "hang":
      return; // never answers
    case "unspecified":
      callback(null, Buffer.alloc(0));
      return;
    case "unknown":
      callback(null, evaluateResponse(99, ["fake_unknown"]));
      return;
    case "malformed":
      // field 2 (reason_codes) claims 100 bytes but only 2 follow: no protobuf decoder accepts it.
      callback(null, Buffer.from([0x12, 0x64, 0x61, 0x62]));
      return;
    case "internal":
      callback(gateError(grpc.status.INTERNAL, "trace write failed (fake)", "TRACE_WRITE_FAILED"));
      return;
    case "kill":
      process.kill(process.pid, "SIGKILL");
      return;
    default:
      callback({ code: grpc.status.UNIMPLEMENTED, details: `fake mode ${mode}` });
  }
}

const raw = (b) => b;
const definition = {
  evaluate: {
    path: "/gait.gate.v1.GateService/Evaluate",
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

function socketPathOf(addr) {
  return addr.startsWith("unix://") ? addr.slice("unix://".length) : undefined;
}

if (mode === "silent" || mode === "stale") {
  const path = socketPathOf(listen);
  const server = createServer((sock) => {
    sock.on("error", () => {});
    // never write anything: the HTTP/2 handshake never completes
  });
  const onListening = () => {
    const a = server.address();
    process.stdout.write(`READY ${typeof a === "string" ? `unix://${a}` : `${a.address}:${a.port}`}\n`);
    if (mode === "stale") process.kill(process.pid, "SIGKILL"); // leave the socket file behind
  };
  if (path) server.listen(path, onListening);
  else {
    const [host, port] = [listen.slice(0, listen.lastIndexOf(":")), Number(listen.slice(listen.lastIndexOf(":") + 1))];
    server.listen(port, host, onListening);
  }
} else {
  const server = new grpc.Server();
  server.addService(definition, { evaluate });
  server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      console.error(`fake-server: bind ${listen}: ${err.message}`);
      process.exit(1);
    }
    const path = socketPathOf(listen);
    process.stdout.write(`READY ${path ? listen : `${listen.slice(0, listen.lastIndexOf(":"))}:${port}`}\n`);
  });
}
process.on("SIGTERM", () => process.exit(0));
