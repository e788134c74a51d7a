/**
 * The web console in a real browser (Debian's Chromium driven by playwright-core; `make setup` installs both): a
 * pending call appears, approving it turns the agent's next evaluation into allow, denying another keeps it blocked,
 * a kill switch set on the page blocks the next call. Plus the console's guards, checked over plain HTTP: login,
 * CSRF on every change, Host check, strict Content-Security-Policy, and a non-loopback bind refused without a token.
 * Screenshots are kept in test-results/ (and refresh docs/ with GAIT_UPDATE_DOCS_SCREENSHOTS=1).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { BASE_POLICY, ROOT, cleanup, intent, startServer, type Server } from "./harness.js";

const CHROMIUM = process.env.GAIT_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(ROOT, "test-results", "console");
const write = (path: string) => ({ input: { case: "intent" as const, value: intent("tool.write", { path, content: "hello", mirror: "https://deploy:hunter2@db.example.com/x?sig=abc123" }) } });
const read = () => ({ input: { case: "intent" as const, value: intent("tool.read", {}) } });

let s: Server;
let url: string;
let origin: string;
let browser: Browser;
let page: Page;

function consoleUrl(server: Server): string {
  const line = server.stdout().split("\n").find((l) => l.startsWith("{"))!;
  return (JSON.parse(line) as { console_url: string }).console_url;
}

async function shot(name: string, locator?: ReturnType<Page["locator"]>) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  if (locator) await locator.screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
  if (process.env.GAIT_UPDATE_DOCS_SCREENSHOTS === "1") copyFileSync(path, join(ROOT, "docs", `console-${name}.png`));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run 'make setup' (it installs Debian's chromium), or set GAIT_CHROMIUM`);
  s = await startServer({ policy: BASE_POLICY, operator: true, extraArgs: ["--kill-switch-state", "ks.json", "--console-listen", "127.0.0.1:0"] });
  url = consoleUrl(s);
  origin = new URL(url).origin;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));
  (page as unknown as { problems: string[] }).problems = problems;
});
afterAll(async () => {
  await browser?.close();
  await s?.stop();
  if (s) cleanup(s.dir);
});

describe("web console in Chromium", () => {
  it("logs in from the printed link, which leaves the address bar", async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{32}$/);
    await page.goto(url);
    await page.getByRole("heading", { name: "Pending approvals" }).waitFor();
    expect(page.url()).toBe(`${origin}/`);
    await page.getByLabel("Your name (recorded as approver and actor)").fill("ops@example.com");
    await page.getByText("No calls are waiting for approval").waitFor();
  });

  it("a pending call appears (secrets redacted); approving it turns the next evaluation into allow", async () => {
    const pending = await s.gate.evaluate(write("/etc/app.conf"));
    expect(pending.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    const row = page.locator(`[data-request-id="${pending.approvalRequestId}"]`);
    await row.waitFor();
    await expect.poll(() => row.textContent()).toContain("/etc/app.conf");
    const text = (await row.textContent())!;
    expect(text).toContain("tool.write");
    expect(text).toContain("agent-1");
    expect(text).toContain("approvals 0/1");
    for (const c of pending.reasonCodes) expect(text).toContain(c);
    expect(text).not.toContain("hunter2"); // URL credentials and query strings are redacted
    expect(text).not.toContain("abc123");
    expect(text).toContain("[redacted]");
    await shot("approvals");
    // by keyboard: type the reason, Tab past the lifetime to Approve, Enter
    await row.getByLabel("Reason").fill("change_42");
    await row.getByLabel("Reason").press("Tab");
    await expect.poll(() => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent)).toBe("Approve");
    await page.keyboard.press("Enter");
    await page.getByText(`Approved tool.write (${pending.approvalRequestId}).`).waitFor();
    const allowed = await s.gate.evaluate({ ...write("/etc/app.conf"), approvalRequestId: pending.approvalRequestId });
    expect(allowed.verdict).toBe(Verdict.ALLOW);
    await row.waitFor({ state: "detached" });
  });

  it("denying another keeps it blocked", async () => {
    const pending = await s.gate.evaluate(write("/etc/other.conf"));
    const row = page.locator(`[data-request-id="${pending.approvalRequestId}"]`);
    await row.getByRole("button", { name: `Deny tool.write (${pending.approvalRequestId})` }).click();
    await page.getByText(`Denied tool.write (${pending.approvalRequestId}).`).waitFor();
    const after = await s.gate.evaluate({ ...write("/etc/other.conf"), approvalRequestId: pending.approvalRequestId });
    expect(after.verdict).toBe(Verdict.BLOCK);
    expect(after.reasonCodes).toContain("approval_request_denied");
  });

  it("a kill switch set on the page blocks the next call; expiring it lifts it", async () => {
    expect((await s.gate.evaluate(read())).verdict).toBe(Verdict.ALLOW);
    const form = page.getByRole("form", { name: "set a kill-switch entry" });
    await form.getByLabel("Tool name").fill("tool.read");
    await form.getByLabel("Reason (required)").fill("incident 7");
    await form.getByLabel("Expires").selectOption("3600");
    await form.getByRole("button", { name: "Set kill switch" }).click();
    await page.getByText("Set kill switch (incident 7).").waitFor();
    const entry = page.locator("ul.entries li.active", { hasText: "tool tool.read" });
    await entry.waitFor();
    const blocked = await s.gate.evaluate(read());
    expect(blocked.verdict).toBe(Verdict.BLOCK);
    expect(blocked.reasonCodes).toContain("kill_switch_active");
    // the feed shows it, with the chart
    const feed = page.locator("section#feed");
    await feed.locator("ol.feed li.block", { hasText: "tool.read" }).first().waitFor();
    await shot("feed", feed);
    await entry.getByRole("button", { name: /^Expire kill switch/ }).click();
    await page.getByText(/^Expired /).waitFor();
    expect((await s.gate.evaluate(read())).verdict).toBe(Verdict.ALLOW);
  });

  it("filters the feed by verdict and shows the policy in force", async () => {
    const feed = page.locator("section#feed");
    await feed.getByLabel("Verdict filter").selectOption("block");
    await feed.getByRole("button", { name: "Apply filters" }).click();
    // the page clears the feed and refills it from the server with the filter: wait for the refilled list (the old,
    // unfiltered one may still be on screen right after the click), then every line must be a block
    const classes = () => feed.locator("ol.feed li").evaluateAll((ls) => [...new Set(ls.map((l) => l.className))].sort().join(","));
    await expect.poll(classes, { timeout: 10_000 }).toBe("block");
    const policy = page.locator("section#policy");
    await expect.poll(() => policy.textContent()).toMatch(/Digestsha256:[0-9a-f]{64}/);
    expect(await policy.textContent()).toContain("Last reloadok");
    expect((page as unknown as { problems: string[] }).problems).toEqual([]); // no CSP violation, no script error
  });
});

describe("console guards (HTTP)", () => {
  const cookieOf = async () => {
    const token = new URL(url).hash.replace("#token=", "");
    const r = await fetch(`${origin}/api/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { csrf: string };
    return { cookie: r.headers.get("set-cookie")!.split(";")[0]!, csrf: body.csrf };
  };

  it("serves the page under a strict Content-Security-Policy", async () => {
    const r = await fetch(`${origin}/`);
    const csp = r.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe");
    expect(r.headers.get("x-frame-options")).toBe("DENY");
    expect(await r.text()).not.toMatch(/<script>|style=/);
  });

  it("refuses the API without a session, a wrong token, a missing CSRF token, and a foreign origin or Host", async () => {
    expect((await fetch(`${origin}/api/approvals`)).status).toBe(401);
    const bad = await fetch(`${origin}/api/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: "nope" }) });
    expect(bad.status).toBe(401);
    const { cookie, csrf } = await cookieOf();
    const body = JSON.stringify({ tool_name: "tool.read", reason: "x", actor: "me" });
    const noCsrf = await fetch(`${origin}/api/killswitch`, { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie }, body });
    expect(noCsrf.status).toBe(403);
    const foreign = await fetch(`${origin}/api/killswitch`, { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie, "X-CSRF-Token": csrf, Origin: "http://evil.example" }, body });
    expect(foreign.status).toBe(403);
    const form = await fetch(`${origin}/api/killswitch`, { method: "POST", headers: { "Content-Type": "text/plain", Cookie: cookie, "X-CSRF-Token": csrf }, body });
    expect(form.status).toBe(415);
    // DNS rebinding: a Host that is not this listener
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${origin}/api/approvals`, { headers: { Host: "evil.example", Cookie: cookie } }, (res) => resolve(res.statusCode!));
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(421);
    // nothing changed
    expect(((await (await fetch(`${origin}/api/killswitch`, { headers: { Cookie: cookie } })).json()) as { entries: unknown[] }).entries).toEqual([]);
    const ok = await fetch(`${origin}/api/killswitch`, { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie, "X-CSRF-Token": csrf, Origin: origin }, body });
    expect(ok.status).toBe(200);
    const id = ((await ok.json()) as { entry: { entry_id: string } }).entry.entry_id;
    const rm = await fetch(`${origin}/api/killswitch/${id}/remove`, { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie, "X-CSRF-Token": csrf }, body: JSON.stringify({ actor: "me" }) });
    expect(rm.status).toBe(200);
  });

  it("refuses a non-loopback bind without a login token file", async () => {
    const t = await startServer({ policy: BASE_POLICY, operator: true, extraArgs: ["--console-listen", "0.0.0.0:0"], expectFailure: true });
    expect(t.child.exitCode).toBe(6);
    expect(t.stderr()).toContain("--console-listen 0.0.0.0:0 is not loopback: it requires --console-token-file");
    cleanup(t.dir);
  });
});

describe("console with --operator-tokens-file", () => {
  it("operators log in with their own token; the approver is its identity (a different claim is refused)", async () => {
    const { createHash } = await import("node:crypto");
    const { writeFileSync, mkdtempSync, chmodSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "gait-ct-"));
    const tokens = join(dir, "operators");
    const bob = "bob-token-0123456789abcdef";
    writeFileSync(tokens, `bob@example.com sha256:${createHash("sha256").update(bob).digest("hex")}\n`);
    chmodSync(tokens, 0o600);
    const t = await startServer({ policy: BASE_POLICY, operator: true, dir, extraArgs: ["--operator-tokens-file", tokens, "--console-listen", "127.0.0.1:0"] });
    try {
      const u = consoleUrl(t);
      expect(u).not.toContain("#token="); // no shared login token then
      const o = new URL(u).origin;
      const login = (token: string) => fetch(`${o}/api/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
      expect((await login("not-a-token")).status).toBe(401);
      const r = await login(bob);
      expect(r.status).toBe(200);
      const { csrf, identity } = (await r.json()) as { csrf: string; identity: string };
      expect(identity).toBe("bob@example.com");
      const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
      const pending = await t.gate.evaluate(write("/etc/x"));
      const post = (body: unknown) => fetch(`${o}/api/approvals/${pending.approvalRequestId}/grant`, { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie, "X-CSRF-Token": csrf }, body: JSON.stringify(body) });
      // the token's identity is the approver, whatever the body says (the service refuses a different claim)
      const ok = await post({ approver: "", reason: "ticket", ttl_seconds: 60 });
      expect(ok.status, await ok.clone().text()).toBe(200);
      expect(((await ok.json()) as { request: { approvers: string[] } }).request.approvers).toEqual(["bob@example.com"]);
    } finally {
      await t.stop();
      cleanup(dir);
    }
  });
});
