// Browser test of the modelgate dashboard in real headless Chromium (Playwright driving
// the system's Chromium; axe-core for accessibility). Started by tests/tests/suite/browser.rs,
// which runs the server and passes: BASE_URL, KEYS (JSON: admin, evaluator, approver,
// viewer), OTHER_DECISION (a decision id of another tenant), SHOTS (screenshot folder),
// CHROMIUM (the browser binary). Exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const base = process.env.BASE_URL;
const keys = JSON.parse(process.env.KEYS);
const otherDecision = process.env.OTHER_DECISION;
const shots = process.env.SHOTS;
fs.mkdirSync(shots, { recursive: true });
const axeSource = fs.readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");

const ODD = "---\nlicense: other\n---\n# Odd model\n\nA card whose licence is not known.\n";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
const problems = [];
const axeReport = [];

async function newPage(width = 1280) {
  const ctx = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`${page.url()}: console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${page.url()}: page error: ${e.message}`));
  return page;
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  axeReport.push(`${name}: ${r.violations.length} violations, ${serious.length} serious or critical`);
  for (const v of r.violations) {
    axeReport.push(`  ${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`);
  }
  assert.equal(serious.length, 0, `${name}: serious accessibility violations: ${JSON.stringify(serious.map((v) => [v.id, v.nodes.map((n) => n.html)]), null, 1)}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function fitsWidth(page, name) {
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  const wide = await page.evaluate(() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > 376 && !e.closest(".scroll"))
    .slice(0, 5)
    .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px)`));
  assert.ok(w <= 376, `${name}: the page is ${w} px wide at 375 px (scrolls sideways): ${wide.join(", ")}`);
}

async function signIn(page, key) {
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/ui\/signin\?next=/, "a page without a session goes to sign in");
  // Keyboard only: the first Tab stop is the skip link, then the key field; Enter submits.
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
  await page.focus("#key");
  await page.keyboard.type(key);
  await Promise.all([page.waitForURL(`${base}/`), page.keyboard.press("Enter")]);
}

async function signOut(page) {
  await Promise.all([page.waitForURL(/\/ui\/signin/), page.getByRole("button", { name: "Sign out" }).click()]);
}

function step(name) {
  console.log(`· ${name}`);
}

try {
  // 1. An evaluator checks a card and sees the verdict.
  step("sign in, check a card, see the verdict");
  let page = await newPage();
  await page.goto(`${base}/ui/signin`);
  await axe(page, "sign in");
  await shot(page, "signin");
  await signIn(page, keys.evaluator);
  await page.goto(`${base}/ui/check`);
  await axe(page, "check");
  await page.fill("#content", ODD);
  await page.fill("#model_ref", "acme/odd-model");
  await page.check("#register");
  await shot(page, "check");
  await Promise.all([page.waitForURL(/\/ui\/decisions\//), page.getByRole("button", { name: "Check", exact: true }).click()]);
  const decisionId = page.url().split("/").pop();
  assert.ok(await page.getByRole("heading", { name: "Verdict: review" }).isVisible());
  assert.ok(await page.getByText("Needs review").isVisible());
  await axe(page, "decision");
  await shot(page, "decision");
  // A second pending decision, from an uploaded file under a described use, for the queue
  // and the model's diff.
  await page.goto(`${base}/ui/check`);
  await page.setInputFiles("#file", { name: "README.md", mimeType: "text/markdown", buffer: Buffer.from(ODD) });
  await page.fill("#model_ref", "acme/odd-model");
  assert.ok(await page.locator("#purpose").isHidden(), "a profile is chosen: the use-context fields are hidden");
  await page.check("#basis-context");
  assert.ok(await page.locator("#purpose").isVisible(), "the script shows the use-context fields");
  await page.selectOption("#purpose", "research");
  await Promise.all([page.waitForURL(/\/ui\/decisions\//), page.getByRole("button", { name: "Check", exact: true }).click()]);
  const secondId = page.url().split("/").pop();
  await page.goto(`${base}/`);
  assert.ok(await page.getByRole("link", { name: "acme/odd-model" }).first().isVisible());
  await axe(page, "board");
  await shot(page, "board");
  await signOut(page);

  // 2. An approver approves the first; the queue and the board show it.
  step("an approver approves a pending review");
  page = await newPage();
  await signIn(page, keys.approver);
  await page.goto(`${base}/ui/reviews`);
  await axe(page, "reviews");
  await shot(page, "reviews");
  const card = page.locator("article", { has: page.locator(`a[href="/ui/decisions/${decisionId}"]`) });
  await card.getByLabel("Justification").fill("Licence read by counsel; fine for the pilot.");
  await card.getByRole("button", { name: "Approve" }).click();
  await page.waitForLoadState();
  assert.ok(await page.getByRole("status").getByText(/approved/).isVisible(), "a notice says it was approved");
  assert.equal(await page.locator(`a[href="/ui/decisions/${decisionId}"]`).count(), 0, "gone from the queue");

  // 3. Waivers: grant one, then revoke it.
  step("grant and revoke a waiver");
  await page.goto(`${base}/ui/waivers`);
  await page.fill("#w-model", "acme/odd-model");
  await page.selectOption("#w-rule", "license-non-commercial");
  await page.selectOption("#w-reason", "legal_opinion_on_file");
  await page.fill("#w-just", "Counsel's opinion LEG-7 is on file.");
  const expires = new Date(Date.now() + 30 * 86400e3).toISOString().slice(0, 10);
  await page.fill("#w-exp", expires);
  await Promise.all([page.waitForURL(`${base}/ui/waivers`), page.getByRole("button", { name: "Grant the waiver" }).click()]);
  const row = page.locator("tr", { hasText: "license-non-commercial" });
  assert.ok(await row.getByText("active").isVisible());
  await axe(page, "waivers");
  await shot(page, "waivers");
  await row.getByRole("button", { name: /Revoke/ }).click();
  await page.waitForLoadState();
  assert.ok(await page.locator("tr", { hasText: "license-non-commercial" }).getByText("revoked").isVisible());

  // 4. A form posted without the session's token is refused.
  step("a form without its CSRF token is refused");
  const forged = await page.request.post(`${base}/ui/waivers`, {
    form: { model_ref: "acme/x", rule_id: "license-non-commercial", reason: "false_positive", justification: "x", expires_at: expires },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403, "no token: 403");
  await signOut(page);

  // 5. A viewer sees the queue without buttons, and another tenant's decision is not found.
  step("a viewer sees no approve button; another tenant's decision is not found");
  page = await newPage();
  await signIn(page, keys.viewer);
  await page.goto(`${base}/ui/reviews`);
  assert.ok(await page.locator(`a[href="/ui/decisions/${secondId}"]`).isVisible(), "the viewer sees the pending decision");
  assert.equal(await page.getByRole("button", { name: "Approve" }).count(), 0, "no approve button");
  await shot(page, "reviews-viewer");
  const resp = await page.goto(`${base}/ui/decisions/${otherDecision}`);
  assert.equal(resp.status(), 404);
  assert.ok(await page.getByText(`there is no decision ${otherDecision}`).isVisible());
  await axe(page, "not found");
  await shot(page, "not-found");
  await page.getByRole("link", { name: "Back to the models board" }).click();
  await signOut(page);

  // 6. The model page (with a diff), packs and audit, as the admin.
  step("model page with a diff, packs, audit");
  page = await newPage();
  await signIn(page, keys.admin);
  await page.goto(`${base}/ui/models/acme/odd-model`);
  await page.check(`#a-${decisionId}`);
  await page.check(`#b-${secondId}`);
  await Promise.all([page.waitForURL(/a=/), page.getByRole("button", { name: /Compare/ }).click()]);
  assert.ok(await page.getByRole("region", { name: "Difference" }).isVisible());
  await axe(page, "model");
  await shot(page, "model");
  await page.goto(`${base}/ui/packs`);
  await axe(page, "packs");
  await shot(page, "packs");
  await page.goto(`${base}/ui/audit`);
  await page.getByRole("button", { name: "Verify now" }).click();
  await page.waitForLoadState();
  assert.ok(await page.getByText("The log verifies").isVisible());
  await axe(page, "audit");
  await shot(page, "audit");
  await page.goto(`${base}/ui/decisions/${decisionId}`);
  assert.ok(await page.getByText("inclusion proof checked").isVisible(), "the log inclusion is shown");
  const download = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download the evidence bundle" }).click()]);
  const bundle = JSON.parse(fs.readFileSync(await download[0].path(), "utf8"));
  assert.equal(bundle.decision_id, decisionId);
  await page.getByRole("button", { name: "Replay" }).click();
  await page.waitForLoadState();
  assert.ok(await page.getByText("same decision, byte for byte").isVisible());

  // 7. At 375 px wide: nothing scrolls sideways.
  step("375 px wide");
  const narrow = await newPage(375);
  await signIn(narrow, keys.admin);
  for (const [name, url] of [["board", "/"], ["check", "/ui/check"], ["decision", `/ui/decisions/${decisionId}`], ["reviews", "/ui/reviews"], ["waivers", "/ui/waivers"], ["packs", "/ui/packs"], ["audit", "/ui/audit"], ["model", "/ui/models/acme/odd-model"]]) {
    await narrow.goto(`${base}${url}`);
    await fitsWidth(narrow, name);
    await shot(narrow, `${name}-375`);
  }

  // The one page expected to answer 404 logs its own load as an error.
  const unexpected = problems.filter((p) => !(p.includes(`/ui/decisions/${otherDecision}:`) && p.includes("404")));
  assert.deepEqual(unexpected, [], "no console errors (a CSP violation is one)");
  console.log(axeReport.join("\n"));
  console.log("all browser checks passed");
} catch (e) {
  console.log(axeReport.join("\n"));
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
}
