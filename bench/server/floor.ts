/**
 * The floor under `gait mcp serve` on this machine (issue 14): a @grpc/grpc-js server on a Unix socket whose Evaluate
 * decodes nothing, decides nothing and answers a fixed ALLOW reply; optionally each call first makes one 2 KB write
 * durable (O_DSYNC, the trace log's descriptor mode), either through libuv's thread pool (`async`, what the trace log
 * does) or blocking the event loop (`sync`, measured and not adopted). scripts/bench-floor.sh drives it and ours with
 * the same client (bench/server/loadgen.py). No group commit here: every call its own write.
 *
 *   node dist/bench/server/floor.js <socket> [none|async|sync]
 */
import { closeSync, constants as fsc, openSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { EvaluateResponseSchema } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";

const [socket, mode = "none"] = process.argv.slice(2);
if (!socket || !["none", "async", "sync"].includes(mode)) {
  process.stderr.write("usage: node dist/bench/server/floor.js <socket> [none|async|sync]\n");
  process.exit(2);
}
const reply = Buffer.from(
  toBinary(EvaluateResponseSchema, create(EvaluateResponseSchema, { verdict: Verdict.ALLOW, reasonCodes: ["matched_rule_allow"], eventId: "0".repeat(24), traceSequence: 1n })),
);
const record = Buffer.alloc(2048, 0x78);
const path = `${socket}.dat`;
const flags = fsc.O_CREAT | fsc.O_RDWR | fsc.O_DSYNC;
const fh = mode === "async" ? await open(path, flags, 0o600) : undefined;
const fd = mode === "sync" ? openSync(path, flags, 0o600) : -1;
let offset = 0;
const nextOffset = (): number => (offset = (offset + record.length) % (64 << 20));

const id = (b: Buffer): Buffer => b;
const server = new grpc.Server();
server.addService(
  { Evaluate: { path: "/gait.gate.v1.GateService/Evaluate", requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  {
    Evaluate: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      if (fh) {
        fh.write(record, 0, record.length, nextOffset()).then(
          () => cb(null, reply),
          (e: Error) => cb({ code: grpc.status.INTERNAL, details: e.message }),
        );
      } else {
        if (fd >= 0) writeSync(fd, record, 0, record.length, nextOffset());
        cb(null, reply);
      }
    },
  },
);
server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => {
  if (e) {
    process.stderr.write(`floor: ${e.message}\n`);
    process.exit(1);
  }
});
const stop = (): void => {
  server.forceShutdown();
  if (fd >= 0) closeSync(fd);
  void fh?.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
