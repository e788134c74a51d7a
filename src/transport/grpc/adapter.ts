/**
 * protobuf-es v2 `GenService` <-> @grpc/grpc-js glue (spec/stack.md §2). No maintained package does this, so it is
 * ours: method paths, serializers and the unary / server-streaming handler shapes are all derived from the generated
 * descriptors, never written by hand. The same serializers serve the typed client used by the tests and benchmarks.
 */
import * as grpc from "@grpc/grpc-js";
import { once } from "node:events";
import * as http2 from "node:http2";
import {
  create,
  fromBinary,
  isMessage,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { fastEncoder } from "./fast-encode.js";
import { isRequestDecodeError, strictDecoder } from "./wire-decode.js";

type AnyGenService = GenService<GenServiceMethods>;
type Methods<S extends AnyGenService> = S["method"];
type In<M extends { input: DescMessage }> = MessageShape<M["input"]>;
type Out<M extends { output: DescMessage }> = MessageShape<M["output"]>;
type OutInit<M extends { output: DescMessage }> = MessageInitShape<M["output"]>;

/** Wrap a Uint8Array as a Buffer without copying. */
const u8ToBuf = (u8: Uint8Array): Buffer => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);

/** Message (or init object) -> bytes: the descriptor-compiled fast encoder when it covers the type, else protobuf-es. */
function serializer<D extends DescMessage>(schema: D) {
  const fast = fastEncoder(schema);
  const slow = (msg: MessageShape<D> | MessageInitShape<D>): Buffer =>
    u8ToBuf(toBinary(schema, isMessage(msg, schema) ? msg : create(schema, msg as MessageInitShape<D>)));
  if (!fast) return slow;
  // a decoded message carrying unknown fields keeps them only through protobuf-es
  return (msg: MessageShape<D> | MessageInitShape<D>): Buffer => ((msg as { $unknown?: unknown[] }).$unknown?.length ? slow(msg) : fast(msg as object));
}
/** Response bytes -> message (the client side trusts the server's encoder; protobuf-es as is). */
function deserializer<D extends DescMessage>(schema: D) {
  return (buf: Buffer): MessageShape<D> => fromBinary(schema, buf);
}

/**
 * A request the strict decoder refused. grpc-js answers a throwing `requestDeserialize` with INTERNAL, so the
 * server-side decoders return this instead and the handler wrapper answers it with the caller's status (the
 * `onDecodeError` option: INVALID_ARGUMENT) before any handler code runs.
 */
export class DecodeFailure {
  constructor(readonly error: Error) {}
}

/** A server-side request decoder: refused input becomes a {@link DecodeFailure}, never a throw. */
function requestDecoder(decode: (buf: Buffer) => unknown): (buf: Buffer) => unknown {
  return (buf) => {
    try {
      return decode(buf);
    } catch (e) {
      return new DecodeFailure(isRequestDecodeError(e) ? e : new Error(`request could not be decoded: ${(e as Error).message}`));
    }
  };
}

/** Per-method request decoders that replace `fromBinary` (the handler then receives what the decoder returns). */
export type RequestDecoders = Record<string, (buf: Buffer) => unknown>;

/** GenService -> grpc-js ServiceDefinition (keys are the protobuf-es localName, e.g. "evaluate"). */
export function toGrpcDefinition(svc: DescService, decoders: RequestDecoders = {}): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of svc.methods) {
    def[m.localName] = {
      path: `/${svc.typeName}/${m.name}`,
      originalName: m.name,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: serializer(m.input) as (v: unknown) => Buffer,
      // every request is decoded under the one strict rule (wire-decode.ts); a method may take another form of it
      requestDeserialize: requestDecoder(decoders[m.localName] ?? strictDecoder(m.input)),
      responseSerialize: serializer(m.output) as (v: unknown) => Buffer,
      responseDeserialize: deserializer(m.output),
    };
  }
  return def;
}

/** An error carrying a gRPC status code (and optional trailers, e.g. grpc-status-details-bin); throw it from a handler. */
export class GrpcError extends Error {
  override name = "GrpcError";
  constructor(
    public code: grpc.status,
    details: string,
    public metadata?: grpc.Metadata,
  ) {
    super(details);
  }
}

/**
 * Map anything thrown by a handler to a status. Unknown errors become INTERNAL with a generic text: the cause is
 * logged by the caller (see `onUnexpected`), not leaked to the client.
 */
function toServiceError(e: unknown, onUnexpected?: (e: unknown) => GrpcError): Partial<grpc.ServiceError> {
  const g = e instanceof GrpcError ? e : onUnexpected ? onUnexpected(e) : new GrpcError(grpc.status.INTERNAL, "internal error");
  return { code: g.code, details: statusText(g.message), metadata: g.metadata };
}

/**
 * A status message safe to send: grpc-js percent-encodes it into the grpc-message header with encodeURIComponent,
 * which throws on a lone surrogate (a message quoting client input, cut in the middle of a character) and drops the
 * whole connection. So: well-formed UTF-16, and bounded.
 */
export function statusText(message: string): string {
  const m = message.length > 1024 ? `${message.slice(0, 1024)}...` : message;
  return (m as string & { toWellFormed(): string }).toWellFormed();
}

/** What a handler sees besides its request. */
export interface HandlerContext {
  metadata: grpc.Metadata;
  /** aborted when the client cancels or the deadline passes */
  signal: AbortSignal;
  deadline: grpc.Deadline;
  /** the peer address as grpc-js reports it */
  peer: string;
  /** true once the client cancelled or the deadline passed (cheaper than creating `signal`) */
  cancelled(): boolean;
}

/** The HTTP/2 stream under a grpc-js server call (internal to grpc-js: found by walking its call chain). */
function resetStream(call: object, code: number): void {
  let c: unknown = call;
  for (let i = 0; i < 8 && c && typeof c === "object"; i++) {
    const st = (c as { stream?: { close?: (code: number) => void; destroyed?: boolean } }).stream;
    if (st && typeof st.close === "function") {
      if (!st.destroyed) st.close(code);
      return;
    }
    c = (c as { call?: unknown; nextCall?: unknown }).call ?? (c as { nextCall?: unknown }).nextCall;
  }
  (call as { destroy?: () => void }).destroy?.(); // grpc-js changed its internals: at least drop our side
}

/** Request types of methods whose requests a {@link RequestDecoders} entry decodes (instead of the message). */
export type RequestOverrides<S extends AnyGenService> = { [K in keyof Methods<S>]?: unknown };

/** Promise / async-iterable style implementation, typed from the GenService (and the request overrides `R`). */
export type ServiceImpl<S extends AnyGenService, R extends RequestOverrides<S> = {}> = {
  [K in keyof Methods<S>]: Methods<S>[K]["methodKind"] extends "unary"
    ? (req: K extends keyof R ? R[K] : In<Methods<S>[K]>, ctx: HandlerContext) => Promise<OutInit<Methods<S>[K]>> | OutInit<Methods<S>[K]>
    : Methods<S>[K]["methodKind"] extends "server_streaming"
      ? (req: In<Methods<S>[K]>, ctx: HandlerContext) => AsyncIterable<OutInit<Methods<S>[K]>>
      : never; // client/bidi streaming: not used by our services (reflection registers its own raw handler)
};

/**
 * The handler context. grpc-js emits "cancelled" when every call's stream closes, including calls that already
 * completed, so the context ignores it after `finish()`. The AbortController and its "cancelled" listener are created
 * only when a handler reads `signal` (streams do; unary decisions only poll `cancelled()`), which keeps both off the
 * per-call hot path. A class rather than an object literal with getters and closures: one allocation per call, and
 * the accessors live on the prototype (a literal with getters costs a fresh function per accessor per call).
 */
class CallContext implements HandlerContext {
  private ac: AbortController | undefined;
  private finished = false;
  constructor(private readonly call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>) {
    // bound once per call: handlers pass `ctx.cancelled` around as a plain function (e.g. to DecisionService)
    this.cancelled = this.cancelled.bind(this);
  }
  get metadata(): grpc.Metadata {
    return this.call.metadata;
  }
  get signal(): AbortSignal {
    if (!this.ac) {
      const c = (this.ac = new AbortController());
      if (!this.finished && this.call.cancelled) c.abort(new GrpcError(grpc.status.CANCELLED, "cancelled"));
      else {
        this.call.once("cancelled", () => {
          if (!this.finished) c.abort(new GrpcError(grpc.status.CANCELLED, "cancelled"));
        });
      }
    }
    return this.ac.signal;
  }
  get deadline(): grpc.Deadline {
    return this.call.getDeadline();
  }
  get peer(): string {
    return this.call.getPeer();
  }
  cancelled(): boolean {
    return !this.finished && this.call.cancelled;
  }
  /** The handler is done: later "cancelled" events are the stream closing, not a cancellation. */
  finish(): void {
    this.finished = true;
  }
}

/**
 * Bounds for server-streaming calls, shared by every service and listener it is given to: at most `max` streams at
 * once (a further one is refused with `onLimit`), and a stream whose client stops reading for `stallMs` is ended
 * with `onStall` (its buffered messages are released). Without it, each idle subscriber costs memory without bound.
 */
export class StreamLimits {
  active = 0;
  constructor(
    readonly max: number,
    readonly stallMs: number,
    readonly onLimit: (method: string) => GrpcError,
    readonly onStall: (method: string) => GrpcError,
  ) {}
}

export interface AddServiceOptions<R = {}> {
  /** Turns an unexpected (non-GrpcError) throw into a status, typically after logging it. Default: generic INTERNAL. */
  onUnexpected?: (e: unknown) => GrpcError;
  /** Decoders for the methods whose requests the impl takes in another form than the message (see `R`). */
  requestDecoders?: { [K in keyof R]: (buf: Buffer) => R[K] };
  /** The status for a request the decoder refused. Default: INVALID_ARGUMENT with the decoder's message. */
  onDecodeError?: (e: Error) => GrpcError;
  /** Limits for server-streaming methods (see {@link StreamLimits}). Default: none. */
  streams?: StreamLimits;
}

/** Turn the typed impl into grpc-js handlers and add them to the server. */
export function addService<S extends AnyGenService, R extends RequestOverrides<S> = {}>(
  server: grpc.Server,
  svc: S,
  impl: ServiceImpl<S, R>,
  opts: AddServiceOptions<R> = {},
): void {
  const handlers: grpc.UntypedServiceImplementation = {};
  const decodeError = (f: DecodeFailure): GrpcError => opts.onDecodeError?.(f.error) ?? new GrpcError(grpc.status.INVALID_ARGUMENT, f.error.message);
  for (const m of svc.methods as DescMethod[]) {
    const fn = (impl as Record<string, (...a: unknown[]) => unknown>)[m.localName];
    if (!fn) continue; // grpc-js answers UNIMPLEMENTED
    if (m.methodKind === "unary") {
      handlers[m.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const ctx = new CallContext(call);
        const ok = (res: unknown): void => {
          ctx.finish();
          cb(null, res);
        };
        const fail = (e: unknown): void => {
          ctx.finish();
          cb(toServiceError(e, opts.onUnexpected));
        };
        if (call.request instanceof DecodeFailure) {
          const e = decodeError(call.request);
          queueMicrotask(() => fail(e));
          return;
        }
        // called directly (no extra microtask hop); a synchronous throw is answered like a rejection
        let out: unknown;
        try {
          out = fn.call(impl, call.request, ctx);
        } catch (e) {
          queueMicrotask(() => fail(e));
          return;
        }
        if (out instanceof Promise) out.then(ok, fail);
        else queueMicrotask(() => ok(out));
      };
    } else if (m.methodKind === "server_streaming") {
      handlers[m.localName] = async (call: grpc.ServerWritableStream<unknown, unknown>) => {
        const ctx = new CallContext(call);
        if (call.request instanceof DecodeFailure) {
          ctx.finish();
          call.emit("error", toServiceError(decodeError(call.request)));
          return;
        }
        const limits = opts.streams;
        if (limits && limits.active >= limits.max) {
          ctx.finish();
          call.emit("error", toServiceError(limits.onLimit(m.name)));
          return;
        }
        if (limits) limits.active++;
        let stalled = false;
        try {
          for await (const msg of fn.call(impl, call.request, ctx) as AsyncIterable<unknown>) {
            if (call.cancelled) return; // for-await calls the generator's return()
            // back-pressure: a slow reader slows the producer down; rejects on cancel. A reader that stops for
            // good is cut off after stallMs, so an idle subscriber cannot hold buffers forever.
            if (!call.write(msg)) {
              if (!limits) await once(call, "drain", { signal: ctx.signal });
              else {
                const timeout = AbortSignal.timeout(limits.stallMs);
                try {
                  await once(call, "drain", { signal: AbortSignal.any([ctx.signal, timeout]) });
                } catch (e) {
                  if (timeout.aborted && !ctx.signal.aborted) {
                    stalled = true;
                    throw limits.onStall(m.name);
                  }
                  throw e;
                }
              }
            }
          }
          call.end();
        } catch (e) {
          if (call.cancelled) return;
          ctx.finish();
          if (stalled) {
            // the client is not reading: a status would queue behind the unread messages and never arrive. Reset the
            // stream with ENHANCE_YOUR_CALM, which gRPC clients report as RESOURCE_EXHAUSTED ("memory limit
            // exceeded"), and release everything it buffered.
            resetStream(call, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
            return;
          }
          // NOT call.destroy(err): that drops queued messages and never sends a status (client hangs to its deadline).
          // grpc-js' own 'error' listener sets the status and end()s after flushing queued writes.
          call.emit("error", toServiceError(e, opts.onUnexpected));
        } finally {
          if (limits) limits.active--;
        }
      };
    }
  }
  server.addService(toGrpcDefinition(svc, (opts.requestDecoders ?? {}) as RequestDecoders), handlers);
}

// ---------------------------------------------------------------------------------------------------------------
// client (tests, benchmarks, tools)
// ---------------------------------------------------------------------------------------------------------------

export interface CallOpts {
  timeoutMs?: number;
  metadata?: grpc.Metadata;
  signal?: AbortSignal;
}
export type PromiseClient<S extends AnyGenService> = {
  [K in keyof Methods<S>]: Methods<S>[K]["methodKind"] extends "unary"
    ? (req: MessageInitShape<Methods<S>[K]["input"]>, opts?: CallOpts) => Promise<Out<Methods<S>[K]>>
    : Methods<S>[K]["methodKind"] extends "server_streaming"
      ? (req: MessageInitShape<Methods<S>[K]["input"]>, opts?: CallOpts) => grpc.ClientReadableStream<Out<Methods<S>[K]>>
      : never;
};

function callOptions(o?: CallOpts): grpc.CallOptions {
  return o?.timeoutMs !== undefined ? { deadline: Date.now() + o.timeoutMs } : {};
}

/** Typed client over a plain grpc.Client (one HTTP/2 channel). */
export function createClient<S extends AnyGenService>(svc: S, channel: grpc.Client): PromiseClient<S> {
  const client: Record<string, unknown> = {};
  for (const m of svc.methods as DescMethod[]) {
    const path = `/${svc.typeName}/${m.name}`;
    const ser = serializer(m.input) as (v: unknown) => Buffer;
    const de = deserializer(m.output);
    if (m.methodKind === "unary") {
      client[m.localName] = (req: unknown, o?: CallOpts) =>
        new Promise((resolve, reject) => {
          const call = channel.makeUnaryRequest(path, ser, de, req, o?.metadata ?? new grpc.Metadata(), callOptions(o), (err, res) =>
            err ? reject(err) : resolve(res),
          );
          o?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
        });
    } else if (m.methodKind === "server_streaming") {
      client[m.localName] = (req: unknown, o?: CallOpts) => {
        const call = channel.makeServerStreamRequest(path, ser, de, req, o?.metadata ?? new grpc.Metadata(), callOptions(o));
        o?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
        return call; // a Node Readable => AsyncIterable; errors are thrown by for-await
      };
    }
  }
  return client as PromiseClient<S>;
}
