// Drives the web wizard end to end in headless Chromium against a real `sluice serve`:
// add a connection inline, preview files, detect, edit a type, create, run now, and check
// that the rows landed and the history shows them. Screenshots go to e2e/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.SLUICE_BIN || join(process.env.HOME, ".cache/sluice-target/release/sluice");
const artifacts = join(here, "artifacts");
const work = mkdtempSync(join(tmpdir(), "sluice-e2e-"));
const drop = join(work, "drop");
let server, browser, page, base;

function csv(first, n) {
  let s = "id,amount,currency,created_at,note\n";
  for (let i = first; i < first + n; i++) s += `${i},${(i * 1.25).toFixed(2)},EUR,2024-11-19T08:${String(i % 60).padStart(2, "0")}:00Z,"note ${i}, quoted"\n`;
  return s;
}

before(async () => {
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  mkdirSync(drop, { recursive: true });
  writeFileSync(join(drop, "transactions_2024-11-18.csv"), csv(1, 120));
  writeFileSync(join(drop, "transactions_2024-11-19.csv"), csv(121, 80));
  writeFileSync(join(drop, "big_notes.txt"), "not a csv");
  server = spawn(bin, ["--data-dir", join(work, "data"), "serve", "--bind", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
  base = await new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/(127\.0\.0\.1:\d+)\/api/);
      if (m) resolve(`http://${m[1]}`);
    });
    server.on("exit", (code) => reject(new Error(`sluice serve exited with ${code}: ${out}`)));
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

const shot = (name) => page.screenshot({ path: join(artifacts, name + ".png"), fullPage: true });

test("the wizard creates a job that loads the files", async () => {
  await page.goto(base + "/#/new");

  // Step 1: name and an inline connection, tested.
  await page.fill("#job-name", "daily-transactions");
  assert.equal(await page.isDisabled("#next"), true, "Next waits for a connection");
  await page.fill("#conn-name", "landing");
  await page.selectOption("#conn-provider", "local");
  // A bucket form asks for bucket settings; a bad bucket name is reported beside its field.
  await page.selectOption("#conn-provider", "s3");
  await page.fill("#conn-name", "bad-s3");
  await page.fill("#conn-bucket", "Not_A_Bucket");
  await page.click("#conn-save");
  await page.waitForFunction(() => document.getElementById("err-bucket").textContent.includes("not a valid bucket name"));
  await page.selectOption("#conn-provider", "local");
  await page.fill("#conn-name", "landing");
  await page.fill("#conn-path", drop);
  await page.click("#conn-save");
  await page.waitForFunction(() => document.getElementById("connection")?.value === "landing");
  await page.fill("#job-name", "daily-transactions");
  await shot("1-name-and-connection");
  await page.click("#next");

  // Step 2: a pattern that matches nothing says so beside the field; then preview and detect.
  await page.fill("#pattern", "orders_*.csv");
  await page.click("#preview-btn");
  await page.waitForFunction(() => document.getElementById("err-file_pattern").textContent.includes("no files matching"));
  assert.equal(await page.isDisabled("#next"), true, "Next waits for detection");
  await page.fill("#pattern", "transactions_*.csv");
  assert.equal(await page.isVisible("#csv-options"), true, "CSV options show for CSV");
  await page.click("#preview-btn");
  await page.waitForSelector("#files tbody tr");
  assert.equal(await page.locator("#files tbody tr").count(), 2);
  assert.match(await page.locator("#files tbody tr").first().innerText(), /transactions_2024-11-19\.csv/);
  await page.click("#all");
  await page.click("#detect-btn");
  await page.waitForSelector("#detect-ok");
  assert.match(await page.innerText("#detect-ok"), /Detected 5 columns/);
  assert.match(await page.innerText("#schema"), /TIMESTAMP/);
  await shot("2-files-and-schema");
  await page.click("#next");

  // Step 3: edit a type; the table name defaults from the pattern.
  assert.equal(await page.inputValue("#table-name"), "transactions");
  await page.selectOption("#type-1", "NUMERIC");
  await shot("3-table");
  await page.click("#next");

  // Step 4: schedule and review, then create.
  // Weekly, three days from today: the server's scheduler must not start it during the test.
  const day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][(new Date().getUTCDay() + 3) % 7];
  await page.selectOption("#schedule", "weekly");
  await page.selectOption("#schedule-day", day);
  await page.fill("#schedule-time", "03:30");
  const summary = await page.innerText("#summary");
  assert.match(summary, new RegExp(`weekly@${day}@03:30`));
  assert.match(summary, /amount NUMERIC/);
  assert.match(summary, /all unprocessed files/);
  await shot("4-schedule-and-review");
  await page.click("#create");

  // The job page: run now, live status, history and processed files.
  await page.waitForSelector("#run-now");
  await page.click("#run-now");
  await page.waitForSelector("#run-status .badge.succeeded", { timeout: 30000 });
  assert.match(await page.innerText("#run-status"), /2 file\(s\), 200 rows loaded/);
  await page.waitForSelector("#runs tbody tr");
  assert.match(await page.innerText("#runs tbody tr"), /succeeded/);
  assert.equal((await page.innerText("#runs td.rows")).replace(/\D/g, ""), "200");
  assert.match(await page.innerText("#processed"), /transactions_2024-11-18\.csv/);
  await shot("5-job-page-after-run");

  // The rows are in the table: the run's receipt came from the destination.
  const runs = await (await fetch(`${base}/api/jobs/daily-transactions/runs`)).json();
  assert.equal(runs.runs[0].rows_loaded, 200);
  const job = await (await fetch(`${base}/api/jobs/daily-transactions`)).json();
  assert.equal(job.job.schema[1].bigquery_type, "NUMERIC");

  // A duplicate name is reported beside the field on the review step.
  await page.goto(base + "/#/jobs");
  await page.waitForSelector("table");
  assert.match(await page.innerText("main"), /daily-transactions/);
  await shot("6-jobs-list");
});
