/**
 * Admission control shared by every surface: a bound on decisions in flight (beyond it a call is refused at once
 * with OVERLOADED, never queued without bound) and the shutdown gate (SHUTTING_DOWN).
 */
import { GateError } from "./errors.js";

export class Admission {
  private n = 0;
  shuttingDown = false;
  private idleWaiters: (() => void)[] = [];
  constructor(readonly max: number) {}

  get inFlight(): number {
    return this.n;
  }

  /** Take a slot (returns its release) or throw GateError OVERLOADED / SHUTTING_DOWN. */
  enter(): () => void {
    if (this.shuttingDown) throw new GateError("SHUTTING_DOWN", "server is shutting down; retry on another instance");
    if (this.n >= this.max) throw new GateError("OVERLOADED", `too many decisions in flight (limit ${this.max}); retry later`);
    this.n++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.n--;
      if (this.n === 0) this.idleWaiters.splice(0).forEach((f) => f());
    };
  }

  /** Resolves when no decision is in flight. */
  idle(): Promise<void> {
    return this.n === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }
}
