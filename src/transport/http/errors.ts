/**
 * GateError kind -> HTTP status for Gait's `/v1/evaluate`, in one table. Gait answers 400 for every evaluation
 * failure; we keep that for input errors and answer 401 for authentication, 503 when the caller should retry later
 * or elsewhere (overload, shutdown, a dependency such as the trace volume being unavailable), 500 for our own faults.
 */
import type { ErrorKind } from "../../service/errors.js";

export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = Object.freeze({
  invalid: 400,
  not_found: 400,
  precondition: 400,
  permission: 403,
  unauthenticated: 401,
  exhausted: 503,
  unavailable: 503,
  out_of_range: 400,
  cancelled: 499,
  internal: 500,
});
