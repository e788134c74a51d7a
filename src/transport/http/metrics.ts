/** GET /metrics on `--metrics-listen host:port`: the service's Prometheus registry. */
import { createServer, type Server } from "node:http";
import type { ServerMetrics } from "../../service/metrics.js";

/** Serve GET /metrics on host:port. Resolves with the bound port (port 0 picks a free one). */
export function listenMetrics(metrics: ServerMetrics, host: string, port: number): Promise<{ server: Server; port: number }> {
  const srv = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
      (e) => res.writeHead(500, { "content-type": "text/plain" }).end(String(e)),
    );
  });
  return new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(port, host, () => {
      const a = srv.address();
      resolve({ server: srv, port: typeof a === "object" && a ? a.port : port });
    });
  });
}
