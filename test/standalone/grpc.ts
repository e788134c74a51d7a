/**
 * A minimal gRPC caller for the tests that drive a service they did not start in-process (the executable's
 * `mcp serve`, the recipes): plain @grpc/grpc-js and the generated message schemas, so it depends only on the
 * proto contract.
 */
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { HealthCheckRequestSchema, HealthCheckResponseSchema } from "../../src/gen/grpc/health/v1/health_pb.js";

export async function unary<I extends DescMessage, O extends DescMessage>(
  socket: string,
  path: string,
  input: I,
  output: O,
  message: MessageInitShape<I>,
  timeoutMs = 5000,
): Promise<MessageShape<O>> {
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
  try {
    return await new Promise<MessageShape<O>>((resolve, reject) => {
      client.makeUnaryRequest(
        path,
        (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
        (b: Buffer) => fromBinary(output, b),
        create(input, message),
        { deadline: Date.now() + timeoutMs },
        (err, res) => (err ? reject(err) : resolve(res!)),
      );
    });
  } finally {
    client.close();
  }
}

/** grpc.health.v1 Check: the serving status (1 = SERVING), or undefined when the call fails. */
export async function healthStatus(socket: string, service = ""): Promise<number | undefined> {
  try {
    const r = await unary(socket, "/grpc.health.v1.Health/Check", HealthCheckRequestSchema, HealthCheckResponseSchema, { service }, 1000);
    return r.status;
  } catch {
    return undefined;
  }
}

/** Wait until the service on `socket` reports SERVING (or `child` exits, or the deadline passes). */
export async function waitServing(socket: string, alive: () => boolean, what: () => string, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (!alive()) throw new Error(`the service exited before serving:\n${what()}`);
    if ((await healthStatus(socket)) === 1) return;
    if (Date.now() > deadline) throw new Error(`the service did not report SERVING within ${deadlineMs} ms:\n${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
