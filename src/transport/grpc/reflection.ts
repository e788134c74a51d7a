/**
 * grpc.reflection v1 + v1alpha ServerReflectionInfo built from the protobuf-es descriptors (spec/stack.md §4
 * Option B), so `grpcurl -plaintext -unix` and `buf curl` can list, describe and call every method without a
 * local copy of the protos. @grpc/reflection is not used: it re-encodes through protobufjs and mis-describes health.
 */
import * as grpc from "@grpc/grpc-js";
import { create, createRegistry, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { DecodeFailure, toGrpcDefinition } from "./adapter.js";

type Req = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

/**
 * Register both reflection services on `server`, describing `services` (and themselves) plus `extraFiles`: files
 * whose types appear only inside google.protobuf.Any (e.g. google.rpc.ErrorInfo in error details), so tools such
 * as grpcurl can decode them.
 */
export function addReflection(server: grpc.Server, services: DescService[], extraFiles: DescFile[] = []): void {
  const files = new Map<string, DescFile>();
  const collect = (f: DescFile): void => {
    if (!files.has(f.name)) {
      files.set(f.name, f);
      f.dependencies.forEach(collect);
    }
  };
  const all = [...services, v1.ServerReflection, v1alpha.ServerReflection];
  all.forEach((s) => collect(s.file));
  extraFiles.forEach(collect);
  const registry = createRegistry(...files.values());
  const encoded = new Map<DescFile, Uint8Array>();
  const enc = (f: DescFile): Uint8Array => {
    let b = encoded.get(f);
    if (!b) encoded.set(f, (b = toBinary(FileDescriptorProtoSchema, f.proto)));
    return b;
  };
  const withDeps = (f: DescFile): Uint8Array[] => {
    const out: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (x: DescFile): void => {
      if (seen.has(x.name)) return;
      seen.add(x.name);
      out.push(x);
      x.dependencies.forEach(visit);
    };
    visit(f);
    return out.map(enc);
  };
  const names = all.map((s) => s.typeName);

  const fileOfSymbol = (sym: string): DescFile | undefined => {
    const d = registry.get(sym);
    if (d) return d.file;
    const i = sym.lastIndexOf("."); // "pkg.Service.Method" / "pkg.Message.field"
    return i > 0 ? registry.get(sym.slice(0, i))?.file : undefined;
  };

  // same wire shape for v1 and v1alpha
  function answer(req: Req): Record<string, unknown> {
    const r = req.messageRequest;
    const notFound = (what: string) => ({
      case: "errorResponse",
      value: { errorCode: grpc.status.NOT_FOUND, errorMessage: `${what} not found` },
    });
    let resp: { case: string; value: unknown };
    switch (r.case) {
      case "listServices":
        resp = { case: "listServicesResponse", value: { service: names.map((name) => ({ name })) } };
        break;
      case "fileByFilename": {
        const f = files.get(r.value);
        resp = f ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDeps(f) } } : notFound(`file ${r.value}`);
        break;
      }
      case "fileContainingSymbol": {
        const f = fileOfSymbol(r.value);
        resp = f ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDeps(f) } } : notFound(`symbol ${r.value}`);
        break;
      }
      case "fileContainingExtension": {
        const m = registry.getMessage(r.value.containingType);
        const ext = m && registry.getExtensionFor(m, r.value.extensionNumber);
        resp = ext ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDeps(ext.file) } } : notFound("extension");
        break;
      }
      case "allExtensionNumbersOfType": {
        const nums: number[] = [];
        for (const t of registry) if (t.kind === "extension" && t.extendee.typeName === r.value) nums.push(t.number);
        resp = { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: nums } };
        break;
      }
      default:
        resp = { case: "errorResponse", value: { errorCode: grpc.status.UNIMPLEMENTED, errorMessage: "unknown request" } };
    }
    return { validHost: req.host, originalRequest: req, messageResponse: resp };
  }

  const pairs = [
    [v1.ServerReflection, v1.ServerReflectionResponseSchema],
    [v1alpha.ServerReflection, v1alpha.ServerReflectionResponseSchema],
  ] as const;
  for (const [svc, respSchema] of pairs) {
    server.addService(toGrpcDefinition(svc), {
      serverReflectionInfo: (call: grpc.ServerDuplexStream<Req, unknown>) => {
        call.on("data", (req: Req | DecodeFailure) => {
          if (req instanceof DecodeFailure) {
            call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: req.error.message });
            return;
          }
          call.write(create(respSchema, answer(req) as never));
        });
        call.on("end", () => call.end());
        call.on("error", () => {});
      },
    });
  }
}
