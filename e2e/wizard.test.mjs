// Drives the web UI end to end in headless Chromium against a real `sluice serve`: the
// wizard (add a connection inline, preview files, detect, edit a type, pick a timezone,
// create), then the job page (run now, history, schedule and timezone, pause and resume,
// alerts to a webhook, the run chart, a run's files and log, the next run with its file
// actions, a change previewed before it is saved). Screenshots go to e2e/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
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
let server, browser, page, base, ui, token, hook;
const hooks = []; // what the alert webhook received

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
  // The alert webhook: records each POST.
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => { hooks.push({ path: req.url, body: JSON.parse(body) }); res.end("ok"); });
  });
  await new Promise((resolve) => hook.listen(0, "127.0.0.1", resolve));
  server = spawn(bin, ["--data-dir", join(work, "data"), "serve", "--bind", "127.0.0.1:0", "--local-root", drop], {
    stdio: ["ignore", "pipe", "inherit"],
    // The BigQuery emulator is the operator's setting.
    env: { ...process.env, SLUICE_BIGQUERY_ENDPOINT: process.env.SLUICE_TEST_BIGQUERY_URL || "" },
  });
  // The server prints its API address, then the UI's address carrying a token made for
  // this start.
  ui = await new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/open the UI at (http:\/\/127\.0\.0\.1:\d+\/\?token=(\S+))/);
      if (m) resolve(m[1]);
    });
    server.on("exit", (code) => reject(new Error(`sluice serve exited with ${code}: ${out}`)));
  });
  base = new URL(ui).origin;
  token = new URL(ui).searchParams.get("token");
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  // The browser is in New York, so the wizard offers that timezone.
  page = await browser.newPage({ viewport: { width: 1200, height: 900 }, timezoneId: "America/New_York", locale: "en-US" });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  hook?.close();
  rmSync(work, { recursive: true, force: true });
});

const shot = (name) => page.screenshot({ path: join(artifacts, name + ".png"), fullPage: true });
const getJSON = async (path) => (await fetch(base + path, { headers: { Authorization: `Bearer ${token}` } })).json();
const textOf = (id) => page.evaluate((id) => document.getElementById(id)?.textContent || "", id);

test("without the token the UI asks for it; the printed address signs in and drops the token", async () => {
  await page.goto(base + "/#/new");
  await page.waitForSelector("#sign-in");
  await page.fill("#token", "not-the-token");
  await page.click("#sign-in");
  await page.waitForSelector("#err-token:not(:empty)");
  assert.match(await page.innerText("#err-token"), /not this server's token/);
  await shot("0-sign-in");
  await page.goto(ui);
  assert.equal(page.url(), base + "/");
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "sluice_session");
  assert.ok(session, JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  // API clients without the token are refused; /healthz stays open.
  assert.equal((await fetch(`${base}/api/jobs`)).status, 401);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
});

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
  // The CSV options were left to detection, which says what it found.
  assert.equal(await page.inputValue("#opt-delimiter"), "", "the delimiter is detected by default");
  assert.match(await page.innerText("#detected-options"), /Delimiter: Comma/);
  assert.match(await page.innerText("#detected-options"), /First row is a header: yes/);
  assert.match(await page.innerText("#schema"), /TIMESTAMP/);
  await shot("2-files-and-schema");
  await page.click("#next");

  // Step 3: edit a type, load a column under another name, add a column set by SQL; the
  // table name defaults from the pattern.
  assert.equal(await page.inputValue("#table-name"), "transactions");
  await page.selectOption("#type-1", "NUMERIC");
  await page.fill("#name-4", "memo");
  await page.fill("#derived-columns", "source_system = 'bank'");
  await shot("3-table");
  await page.click("#next");

  // Step 4: schedule and review, then create.
  // Weekly, three days from today: the server's scheduler must not start it during the test.
  const day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][(new Date().getUTCDay() + 3) % 7];
  await page.selectOption("#schedule", "weekly");
  await page.selectOption("#schedule-day", day);
  await page.fill("#schedule-time", "03:30");
  // The timezone defaults to UTC; the browser's own is one click away.
  assert.equal(await page.inputValue("#timezone"), "UTC");
  assert.match(await page.innerText("#summary"), /Timezone\s+UTC/);
  assert.match(await page.innerText("#tz-browser"), /America\/New_York/);
  await page.click("#tz-browser");
  assert.equal(await page.inputValue("#timezone"), "America/New_York");
  assert.match(await page.innerText("label[for=schedule-time]"), /in America\/New_York/);
  const summary = await page.innerText("#summary");
  assert.match(summary, new RegExp(`weekly@${day}@03:30`));
  assert.match(summary, /Timezone\s+America\/New_York/);
  assert.match(summary, /amount NUMERIC/);
  assert.match(summary, /memo STRING, source_system \(set\)/);
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
  const runs = await getJSON("/api/jobs/daily-transactions/runs");
  assert.equal(runs.runs[0].rows_loaded, 200);
  const job = await getJSON("/api/jobs/daily-transactions");
  assert.equal(job.job.schema[1].bigquery_type, "NUMERIC");
  assert.deepEqual(job.job.schema.slice(4).map((c) => [c.name, c.source || null, c.bigquery_type]), [["memo", "note", "STRING"], ["source_system", null, "STRING"]]);
  assert.deepEqual(job.job.derived_columns, ["source_system"]);
  assert.equal(job.job.timezone, "America/New_York");
  assert.equal(job.job.schedule, `weekly@${day}@03:30`);

  // A duplicate name is reported beside the field on the review step.
  await page.goto(base + "/#/jobs");
  await page.waitForSelector("table");
  assert.match(await page.innerText("main"), /daily-transactions/);
  await shot("6-jobs-list");
});

test("the job page edits the schedule, pauses, alerts and explains each run", async () => {
  await page.goto(base + "/#/jobs/daily-transactions");
  await page.waitForSelector("#schedule-save");
  assert.equal(await page.inputValue("#schedule"), "weekly");
  assert.equal(await page.inputValue("#timezone"), "America/New_York");
  assert.match(await page.innerText("#next-run"), /America\/New_York/);

  // Daily at HH:15 in Berlin, about half a day away: the scheduler must not start it now.
  const hh = String((new Date().getUTCHours() + 12) % 24).padStart(2, "0");
  await page.selectOption("#schedule", "daily");
  await page.fill("#schedule-time", `${hh}:15`);
  await page.fill("#timezone", "Europe/Berlin");
  await page.click("#schedule-save");
  await page.waitForFunction(() => document.getElementById("schedule-msg").textContent.includes("Saved"));
  let { job } = await getJSON("/api/jobs/daily-transactions");
  assert.equal(job.schedule, `daily@${hh}:15`);
  assert.equal(job.timezone, "Europe/Berlin");
  assert.ok(job.next_run_at, "a daily job has a next run");
  const inBerlin = (t) => new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(t));
  assert.equal(inBerlin(job.next_run_at), `${hh}:15`);
  assert.match(await page.innerText("#next-run"), new RegExp(`${hh}:15 Europe/Berlin`));
  assert.match(await page.innerText("#schedule-text"), new RegExp(`Daily at ${hh}:15 Europe/Berlin`));
  await shot("7-job-schedule-saved");

  // An unknown timezone is refused beside the timezone field; the job keeps its own.
  await page.fill("#timezone", "Mars/Olympus_Mons");
  await page.click("#schedule-save");
  await page.waitForFunction(() => document.getElementById("err-timezone").textContent.includes("unknown timezone"));
  assert.equal(await page.evaluate(() => document.getElementById("err-timezone").parentElement.contains(document.getElementById("timezone"))), true,
    "the error sits in the timezone field's own block");
  assert.equal(await textOf("err-schedule"), "");
  assert.equal((await getJSON("/api/jobs/daily-transactions")).job.timezone, "Europe/Berlin");
  await page.locator("#timezone").scrollIntoViewIfNeeded();
  await shot("8-job-timezone-error");
  await page.fill("#timezone", "Europe/Berlin");

  // Pause: no next run, and the page and the list say so. Then resume.
  assert.equal(await page.innerText("#pause-btn"), "Pause schedule");
  await page.click("#pause-btn");
  await page.waitForFunction(() => document.getElementById("job-state").textContent === "paused");
  ({ job } = await getJSON("/api/jobs/daily-transactions"));
  assert.equal(job.paused, true);
  assert.equal(job.next_run_at, null);
  assert.match(await page.innerText("#next-run"), /paused/);
  assert.match(await page.innerText("#schedule-text"), /paused/);
  assert.equal(await page.innerText("#pause-btn"), "Resume schedule");
  await page.goto(base + "/#/jobs");
  await page.waitForSelector('tr[data-job="daily-transactions"]');
  const row = page.locator('tr[data-job="daily-transactions"]');
  assert.match(await row.locator("td.schedule").innerText(), new RegExp(`Daily at ${hh}:15 Europe/Berlin\\s*paused`));
  assert.match(await row.locator("td.next-run").innerText(), /paused/);
  assert.equal(await row.locator("td.schedule .badge.paused").count(), 1);
  await shot("9-jobs-list-paused");
  await page.goto(base + "/#/jobs/daily-transactions");
  await page.click("#pause-btn");
  await page.waitForFunction(() => document.getElementById("job-state").textContent === "active");
  ({ job } = await getJSON("/api/jobs/daily-transactions"));
  assert.equal(job.paused, false);
  assert.equal(inBerlin(job.next_run_at), `${hh}:15`);
  assert.match(await page.innerText("#next-run"), new RegExp(`${hh}:15 Europe/Berlin`));

  // Alerts: a bad URL is refused beside its field; a Slack-style webhook is saved.
  await page.fill("#alert-url", "ftp://example.com/hook");
  await page.click("#alerts-save");
  await page.waitForFunction(() => document.getElementById("err-alerts.targets[0].url").textContent.includes("http://"));
  const hookUrl = `http://127.0.0.1:${hook.address().port}/hook`;
  await page.fill("#alert-url", hookUrl);
  await page.selectOption("#alert-format", "slack");
  await page.fill("#freshness-hours", "48");
  // An email address that is not one is refused beside the email field.
  await page.fill("#alert-email", "ops at example");
  await page.click("#alerts-save");
  await page.waitForFunction(() => document.getElementById("err-alerts.email").textContent.includes("not an email address"));
  await page.fill("#alert-email", "");
  await page.click("#alerts-save");
  await page.waitForFunction(() => document.getElementById("alerts-msg").textContent.includes("Saved"));
  assert.equal(await textOf("err-alerts.targets[0].url"), "");
  assert.equal(await textOf("err-alerts.email"), "");
  ({ job } = await getJSON("/api/jobs/daily-transactions"));
  // The webhook's URL (Slack's carries its secret) is shown with its host only...
  const shownUrl = `http://127.0.0.1:${hook.address().port}/••••`;
  assert.deepEqual(job.alerts, { targets: [{ kind: "webhook", url: shownUrl, format: "slack" }], freshness_hours: 48 });
  assert.match(await page.innerText("#incidents"), /No alerts so far/);
  // ...and saving the form again, as shown, keeps the stored URL (the alert below arrives).
  await page.reload();
  await page.waitForSelector("#alerts-save");
  assert.equal(await page.inputValue("#alert-url"), shownUrl);
  await page.fill("#freshness-hours", "36");
  // Parking: a file failing the same way run after run stops being tried after 5 runs.
  assert.equal(await page.inputValue("#park-after"), "3");
  await page.fill("#park-after", "5");
  await page.click("#alerts-save");
  await page.waitForFunction(() => document.getElementById("alerts-msg").textContent.includes("Saved"));
  ({ job } = await getJSON("/api/jobs/daily-transactions"));
  assert.equal(job.alerts.freshness_hours, 36);
  assert.equal(job.park_after_failures, 5);

  // A second run: one new file loads, one with a changed schema is refused and raises an alert.
  writeFileSync(join(drop, "transactions_2024-11-20.csv"), csv(201, 50));
  writeFileSync(join(drop, "transactions_2024-11-21.csv"), "id,amount,currency\n1,2.50,EUR\n");
  // How many files load at once goes with the run; the server refuses what it cannot do.
  await page.fill("#run-parallel", "99");
  await page.click("#run-now");
  await page.waitForFunction(() => /files load at once: 1 to 64/.test(document.getElementById("run-status").textContent));
  await page.fill("#run-parallel", "2");
  await page.click("#run-now");
  await page.waitForSelector("#run-status .badge.partially_failed", { timeout: 30000 });
  assert.match(await page.innerText("#run-status"), /1 file\(s\), 50 rows loaded.*1 failed/);
  assert.match(await page.innerText("#run-status"), /columns differ/);
  await page.waitForFunction(() => document.querySelectorAll("#runs tbody tr").length === 2);
  for (let i = 0; i < 100 && !hooks.length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(hooks.length, 1, "the webhook heard the schema change once");
  assert.match(hooks[0].body.text, /schema/);

  // The chart: one bar and one duration point per run, oldest left, with a title.
  await page.reload();
  await page.waitForSelector("#run-chart");
  const runs = (await getJSON("/api/jobs/daily-transactions/runs")).runs;
  assert.equal(runs.length, 2);
  assert.equal(await page.locator("#run-chart rect.bar").count(), 2);
  assert.equal(await page.locator("#run-chart circle.pt").count(), 2);
  assert.deepEqual(await page.locator("#run-chart rect.bar").evaluateAll((bars) => bars.map((b) => Number(b.dataset.run))), [runs[1].id, runs[0].id]);
  const heights = await page.locator("#run-chart rect.bar").evaluateAll((bars) => bars.map((b) => Number(b.getAttribute("height"))));
  assert.ok(heights[0] > heights[1], "200 rows stand taller than 50");
  assert.equal(await page.getAttribute("#run-chart", "role"), "img");
  assert.match(await page.locator("#run-chart > title").textContent(), /Rows loaded and duration of the last 2/);
  assert.match(await page.locator("#run-chart > desc").textContent(), /Most rows: 200/);
  // The alert is listed, with its webhook delivery.
  assert.match(await page.innerText("#incidents-table"), /open\s+schema change/);
  assert.match(await page.innerText("#incidents-table"), /sent/);
  // The refused file is in the ledger as failing, counted towards parking.
  assert.match(await page.innerText("#processed"), /transactions_2024-11-21\.csv\s+failed 1× in a row/);
  await shot("10-job-page-two-runs");

  // A run's details: each file's outcome in words, and the log with times and levels.
  await page.click(`#runs tbody tr[data-run="${runs[0].id}"] td:first-child`);
  await page.waitForSelector("#run-log");
  assert.equal(await page.evaluate(() => location.hash), `#/jobs/daily-transactions/runs/${runs[0].id}`);
  const files = await page.innerText("#run-files");
  assert.match(files, /transactions_2024-11-20\.csv[\s\S]*loaded\s+50/);
  assert.match(files, /transactions_2024-11-21\.csv[\s\S]*failed: schema mismatch/);
  const log = page.locator("#run-log tbody tr");
  const first = await log.first().innerText();
  assert.match(first, /\d\d:\d\d:\d\d\.\d{3}\s+info\s+run \d+ of job 'daily-transactions' started by hand/);
  assert.equal(await page.locator("#run-log tr.level-error").count(), 1);
  assert.match(await page.locator("#run-log tr.level-error").innerText(), /error\s+transactions_2024-11-21\.csv: failed: schema mismatch/);
  await shot("11-run-details");
  // The first run, from its Details link: both files loaded.
  await page.click("a.crumbs, .crumbs a");
  await page.waitForSelector("#runs");
  await page.click(`#runs tr[data-run="${runs[1].id}"] a.details`);
  await page.waitForSelector("#run-log");
  assert.equal(await page.locator("#run-files td.outcome", { hasText: /^loaded$/ }).count(), 2);
});

test("a run asked for while another runs waits in the queue, and says so", async () => {
  // The refused file goes away and a larger one arrives: the next run loads it and resolves
  // the schema alert.
  rmSync(join(drop, "transactions_2024-11-21.csv"));
  writeFileSync(join(drop, "transactions_2024-11-22.csv"), csv(251, 30000));
  await page.goto(base + "/#/jobs/daily-transactions");
  await page.waitForSelector("#run-now");
  // A run starts (holding the job from its answer on), then Run now is pressed at once.
  await page.evaluate(async () => {
    await fetch("/api/jobs/daily-transactions/run", { method: "POST", headers: { "Content-Type": "application/json" } });
    document.getElementById("run-now").click();
  });
  await page.waitForSelector("#run-status .badge.queued");
  assert.match(await page.innerText("#run-status"), /run \d+ waits for the job's current run to finish/);
  await shot("12-run-queued");
  await page.waitForSelector("#run-status .badge.succeeded", { timeout: 30000 });
  const runs = (await getJSON("/api/jobs/daily-transactions/runs")).runs;
  assert.equal(runs.length, 4);
  assert.equal(runs[1].rows_loaded, 30000);
  assert.equal(runs[0].files_loaded, 0);
  assert.match(await page.innerText("#run-status"), new RegExp(`run ${runs[0].id}: 0 file\\(s\\), 0 rows loaded`));
  assert.equal(await page.locator("#run-chart rect.bar").count(), 4);
  // The queued run's details tell how long it waited; its log starts with why.
  await page.click("#run-status a.details");
  await page.waitForSelector("#run-log");
  assert.match(await page.innerText("#run-info"), /Queued\s+.*waited/);
  assert.match(await page.locator("#run-log tbody tr").first().innerText(), /queued: job 'daily-transactions' is already running/);
  await shot("13-queued-run-details");
  // The schema alert is resolved, and the webhook heard that too.
  for (let i = 0; i < 100 && hooks.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(hooks.length, 2);
  assert.match(hooks[1].body.text, /resolved/);
  await page.click(".crumbs a");
  await page.waitForSelector("#incidents-table");
  assert.match(await page.innerText("#incidents-table"), /resolved\s+schema change/);
});

test("the job page shows the next run, acts on a file and changes the job after a preview", async () => {
  writeFileSync(join(drop, "transactions_2024-11-23.csv"), csv(40001, 10));
  // The page is already on this job (the last test ended there): load it anew, so that
  // its plan sees the new file.
  await page.goto(base + "/#/jobs/daily-transactions");
  await page.reload();
  await page.waitForSelector("#plan-table");
  const row = (file) => page.locator(`#plan-table tr[data-file="${file}"]`);
  assert.match(await row("transactions_2024-11-22.csv").innerText(), /skip\s+already loaded/);
  assert.match(await row("transactions_2024-11-23.csv").innerText(), /load\s+new/);
  assert.match(await page.innerText("#plan-counts"), /1 to load/);
  await shot("14-next-run");
  // Skip the new file, then let it be tried again.
  await row("transactions_2024-11-23.csv").locator('button[data-action="skip"]').click();
  await page.waitForFunction(() => document.getElementById("file-action-msg").textContent.includes("skipped"));
  assert.match(await row("transactions_2024-11-23.csv").innerText(), /skipped by a person/);
  await row("transactions_2024-11-23.csv").locator('button[data-action="retry"]').click();
  await page.waitForFunction(() => document.getElementById("file-action-msg").textContent.includes("tries it again"));
  // The plan is drawn again after the message.
  await page.waitForFunction(() => /load/.test(document.querySelector('#plan-table tr[data-file="transactions_2024-11-23.csv"]')?.textContent || ""));
  assert.match(await row("transactions_2024-11-23.csv").innerText(), /load/);
  // A settle time of a day holds the new file back: the preview shows it before saving.
  await page.fill("#edit-settle", "86400");
  await page.click("#edit-check");
  await page.waitForSelector("#edit-changes");
  assert.match(await page.innerText("#edit-changes"), /settle_time_seconds: 0 → 86400/);
  assert.match(await page.innerText("#edit-preview"), /not settled/);
  let { job } = await getJSON("/api/jobs/daily-transactions");
  assert.equal(job.settle_time_seconds, 0, "a preview saves nothing");
  await shot("15-change-preview");
  await page.click("#edit-save");
  await page.waitForFunction(() => document.getElementById("edit-msg").textContent.includes("Saved"));
  ({ job } = await getJSON("/api/jobs/daily-transactions"));
  assert.equal(job.settle_time_seconds, 86400);
  await page.waitForSelector("#changes-table");
  assert.match(await page.innerText("#changes-table"), /settle_time_seconds\s+0\s+86400/);
  await page.waitForFunction(() => /1 waiting/.test(document.getElementById("plan-counts").textContent));
  assert.match(await page.innerText("#plan-counts"), /0 to load, 1 waiting/);
  await shot("16-changed-job");
});

test("the wizard loads into BigQuery chosen on the table step", async () => {
  // local-bigquery, started by scripts/peers.sh (scripts/test exports where it listens).
  const endpoint = process.env.SLUICE_TEST_BIGQUERY_URL;
  const project = process.env.SLUICE_TEST_BIGQUERY_PROJECT;
  assert.ok(endpoint && project, "SLUICE_TEST_BIGQUERY_URL and SLUICE_TEST_BIGQUERY_PROJECT: eval \"$(bash scripts/peers.sh env)\"");
  const dataset = `e2e_${process.pid}_${Date.now()}`;
  mkdirSync(join(drop, "bq"), { recursive: true });
  writeFileSync(join(drop, "bq", "orders_1.csv"), csv(1, 40));
  await page.goto(base + "/#/new");
  await page.fill("#job-name", "bq-orders");
  await page.selectOption("#connection", "landing");
  await page.click("#next");
  await page.fill("#prefix", "bq");
  await page.fill("#pattern", "orders_*.csv");
  await page.click("#detect-btn");
  await page.waitForSelector("#detect-ok");
  await page.click("#next");

  // The destination's fields come from the server's vocabulary.
  await page.selectOption("#destination-kind", "bigquery");
  assert.equal(await page.isVisible("#dest-project"), true);
  assert.equal(await page.isVisible("#dest-auth-key-json"), false, "the key shows only for a service-account key");
  assert.equal(await page.isDisabled("#next"), true, "Next waits for project and dataset");
  await page.fill("#dest-project", project);
  await page.fill("#dest-dataset", "not-a-dataset");
  assert.equal(await page.isDisabled("#next"), true, "a dataset name holds letters, digits and _");
  await page.fill("#dest-dataset", dataset);
  await page.selectOption("#dest-auth-type", "service_account_key");
  assert.equal(await page.isVisible("#dest-auth-key-json"), true);
  await page.selectOption("#dest-auth-type", "none");
  await page.click("#destination-test");
  await page.waitForFunction(() => document.getElementById("destination-msg").textContent.includes("answers"));
  await shot("14-bigquery-destination");
  await page.click("#next");
  assert.match(await page.innerText("#summary"), new RegExp(`BigQuery \\(Project: ${project}, Dataset: ${dataset}, Credentials: None`));
  await page.click("#create");

  await page.waitForSelector("#run-now");
  await page.click("#run-now");
  await page.waitForSelector("#run-status .badge.succeeded", { timeout: 60000 });
  assert.match(await page.innerText("#run-status"), /1 file\(s\), 40 rows loaded/);
  const job = (await getJSON("/api/jobs/bq-orders")).job;
  assert.equal(job.destination.kind, "bigquery");
  assert.equal(job.destination.dataset, dataset);
  // The rows are in BigQuery: asked of the emulator directly.
  const answer = await (await fetch(`${endpoint}/bigquery/v2/projects/${project}/queries`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: `SELECT COUNT(*) FROM \`${project}.${dataset}.orders\``, useLegacySql: false }),
  })).json();
  assert.equal(answer.rows[0].f[0].v, "40");
  await shot("15-bigquery-job-after-run");
});

test("the wizard offers every format and says what it sniffed in a European export", async () => {
  // Latin-1, a title block, semicolons, a decimal comma and NULL markers.
  const text = "Umsatzbericht\nerstellt am 19.11.2024\n\nid;betrag;stadt;rabatt\n1;1.234,56;Köln;NULL\n2;-0,50;Düsseldorf;5\n3;12;Ulm;NULL\n";
  writeFileSync(join(drop, "umsatz_2024-11.csv"), Buffer.from(text, "latin1"));
  await page.goto(base + "/#/new");
  await page.fill("#job-name", "umsatz");
  await page.waitForFunction(() => [...document.querySelectorAll("#connection option")].some((o) => o.value === "landing"));
  await page.selectOption("#connection", "landing");
  await page.click("#next");
  await page.waitForSelector("#format");
  const formats = await page.$$eval("#format option", (os) => os.map((o) => o.value));
  for (const f of ["csv", "parquet", "json", "avro", "orc", "tfrecord"]) assert.ok(formats.includes(f), `${f} is offered: ${formats}`);
  await page.fill("#pattern", "umsatz_*.csv");
  await page.click("#detect-btn");
  await page.waitForSelector("#detect-ok");
  assert.match(await page.innerText("#detect-ok"), /Detected 4 columns/);
  assert.match(await page.innerText("#schema"), /betrag\s+FLOAT64/);
  assert.match(await page.innerText("#schema"), /Köln/);
  const notes = await page.innerText("#detected-notes");
  assert.match(notes, /Encoding latin-1/);
  assert.match(notes, /Skipped 3 line/);
  assert.match(notes, /decimal comma/);
  assert.match(notes, /'NULL' read as NULL/);
  assert.match(await page.innerText("#detected-options"), /Delimiter: Semicolon/);
  await shot("9-european-export");
});

test("the job page shows a refused file's columns as a proposed schema version and approves it", async () => {
  const send = async (method, path, body) => {
    const r = await fetch(base + path, { method, headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  };
  const folder = join(drop, "evolving");
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "orders_1.csv"), "id,amount\n1,5\n2,7\n");
  let r = await send("POST", "/api/connections", { name: "evolving", provider: "local", path: folder });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await send("POST", "/api/jobs", { name: "orders", connection_id: "evolving", file_pattern: "orders_*.csv", load_latest_only: false, table_name: "orders" });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.job.schema_policy, "fail");
  const started = await send("POST", "/api/jobs/orders/run", {});
  assert.equal(started.status, 202, JSON.stringify(started.body));
  for (;;) {
    const { run } = await getJSON(`/api/runs/${started.body.run_id}`);
    if (!["queued", "running"].includes(run.status)) { assert.equal(run.status, "succeeded"); break; }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // A file with a new column is refused; its columns are kept as proposed version 2.
  writeFileSync(join(folder, "orders_2.csv"), "id,channel,amount,note\n3,web,9,x\n");
  await page.goto(ui); // signed in (when run alone)
  await page.goto(base + "/#/jobs/orders");
  await page.waitForSelector("#schema-versions");
  await page.click("#run-now");
  await page.waitForSelector('#schema-versions tr[data-version="2"]');
  const proposed = page.locator('#schema-versions tr[data-version="2"]');
  assert.match(await proposed.innerText(), /proposed/);
  assert.match(await proposed.innerText(), /\+ channel STRING \(new in the file\)/);
  assert.match(await proposed.innerText(), /add channel STRING/);
  assert.match(await page.innerText("#run-status"), /failed/);
  await shot("20-proposed-schema");
  await proposed.locator("button[data-approve]").click();
  await page.waitForFunction(() => document.getElementById("schema-msg").textContent.includes("accepted"));
  assert.match(await page.innerText("#schema-msg"), /version 2 accepted; table: add channel STRING, add note STRING\. 1 refused file\(s\) load on the next run/);
  // The versions are drawn again once the approval's job arrives.
  await page.waitForFunction(() => /accepted/.test(document.querySelector('#schema-versions tr[data-version="2"]')?.textContent ?? ""));
  assert.match(await page.innerText('#schema-versions tr[data-version="2"]'), /accepted/);
  // The job's facts are drawn again from the job the approval returns.
  await page.waitForFunction(() => /channel STRING/.test(document.getElementById("job-info").textContent));
  assert.match(await page.innerText("#job-info"), /channel STRING/);
  // The next run loads the refused file into the new column.
  await page.click("#run-now");
  await page.waitForFunction(() => /succeeded/.test(document.getElementById("run-status").textContent));
  const { runs } = await getJSON("/api/jobs/orders/runs");
  assert.equal(runs[0].status, "succeeded");
  assert.equal(runs[0].rows_loaded, 1);
  // A type widened from the page, as a new version (once the page has redrawn after the run).
  await page.waitForLoadState("networkidle");
  await page.selectOption("#retype-column", "amount");
  await page.selectOption("#retype-type", "NUMERIC");
  await page.click("#retype");
  await page.waitForFunction(() => document.getElementById("schema-msg").textContent.includes("version 3"));
  assert.match(await page.innerText("#schema-msg"), /change amount from INT64 to NUMERIC/);
  // A change that could lose values is refused, naming the column.
  await page.selectOption("#retype-column", "id");
  await page.selectOption("#retype-type", "BOOL");
  await page.click("#retype");
  await page.waitForSelector("#err-schema:not(:empty)");
  assert.match(await page.innerText("#err-schema"), /column id cannot change from INT64 to BOOL/);
  // A column renamed in the table (files keep their name for it), one dropped after a
  // second click that says what goes.
  await page.selectOption("#retype-column", "channel");
  await page.fill("#rename-to", "sales_channel");
  await page.click("#rename");
  await page.waitForFunction(() => document.getElementById("schema-msg").textContent.includes("version 4"));
  assert.match(await page.innerText("#schema-msg"), /rename channel to sales_channel/);
  await page.selectOption("#retype-column", "note");
  await page.click("#drop-column");
  assert.match(await page.innerText("#drop-confirm"), /Drop note and every value it holds from table orders/);
  await page.click("#drop-confirmed");
  await page.waitForFunction(() => document.getElementById("schema-msg").textContent.includes("version 5"));
  assert.match(await page.innerText("#schema-msg"), /drop note/);
  // The job's facts are drawn again once the approval's job arrives.
  await page.waitForFunction(() => !/note STRING/.test(document.getElementById("job-info").textContent));
  assert.match(await page.innerText("#job-info"), /sales_channel STRING/);
  assert.doesNotMatch(await page.innerText("#job-info"), /note STRING/);
  writeFileSync(join(folder, "orders_3.csv"), "id,channel,amount,note\n4,shop,11,y\n");
  await page.click("#run-now");
  await page.waitForFunction(() => /succeeded/.test(document.getElementById("run-status").textContent));
  const after = await getJSON("/api/jobs/orders/runs");
  assert.equal(after.runs[0].rows_loaded, 1);
  await shot("21-schema-versions");
  // Row rules are set on the same page, checked against the job's columns when saved.
  await page.fill("#edit-rules", "bad: nope > 1");
  await page.click("#edit-check");
  await page.waitForSelector("#err-rules:not(:empty), #err-edit:not(:empty)");
  assert.match(await page.innerText("#files-card"), /nope/);
  await page.fill("#edit-rules", "positive: amount > 0\nunique(id)");
  await page.fill("#edit-filters", "sales_channel IS DISTINCT FROM 'test'");
  await page.click("#edit-check");
  await page.waitForSelector("#edit-changes");
  assert.match(await page.innerText("#edit-changes"), /rules: none → positive: amount > 0; unique_id: unique\(id\)/);
  await page.click("#edit-save");
  await page.waitForFunction(() => document.getElementById("edit-msg").textContent.includes("Saved"));
  const { job } = await getJSON("/api/jobs/orders");
  assert.deepEqual(job.rules.map((r) => r.name), ["positive", "unique_id"]);
  assert.deepEqual(job.filters, ["sales_channel IS DISTINCT FROM 'test'"]);
  assert.match(await page.innerText("#job-info"), /1 filter\(s\), 2 rule\(s\)/);
  // What the page shows is what it saves again unchanged.
  await page.click("#edit-check");
  await page.waitForFunction(() => /Nothing changes/.test(document.getElementById("edit-preview").textContent));
  // A column a rule names cannot be dropped: the error says to remove the rule first.
  await page.selectOption("#retype-column", "amount");
  await page.click("#drop-column");
  await page.click("#drop-confirmed");
  await page.waitForSelector("#err-schema:not(:empty)");
  assert.match(await page.innerText("#err-schema"), /--no-rules/);
  await shot("22-row-rules");
});

test("the job page quarantines bad rows, lists them and replays them after the rule is fixed", async () => {
  const send = async (method, path, body) => {
    const r = await fetch(base + path, { method, headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  };
  const folder = join(drop, "quarantine");
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "pay_1.csv"), "id,amount\n1,5\n2,-3\n3,0\n4,8\n");
  let r = await send("POST", "/api/connections", { name: "quarantine", provider: "local", path: folder });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await send("POST", "/api/jobs", { name: "pay", connection_id: "quarantine", file_pattern: "pay_*.csv", table_name: "pay", rules: ["positive: amount > 0"] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await page.goto(ui); // signed in (when run alone)
  await page.goto(base + "/#/jobs/pay");
  await page.waitForSelector("#rejected-none");
  assert.match(await page.innerText("#job-info"), /Bad rows\s+the first fails its file/);
  // Bad rows quarantined: set on the job page, saved after its preview.
  await page.fill("#edit-max-rejected", "50%");
  await page.click("#edit-check");
  await page.waitForSelector("#edit-changes");
  assert.match(await page.innerText("#edit-changes"), /max_rejected: 0 → 50%/);
  await page.click("#edit-save");
  await page.waitForFunction(() => document.getElementById("edit-msg").textContent.includes("Saved"));
  await page.click("#run-now");
  await page.waitForFunction(() => /succeeded/.test(document.getElementById("run-status").textContent));
  assert.match(await page.innerText("#run-status"), /2 rows loaded, 2 rejected/);
  await page.waitForSelector("#rejected-counts");
  assert.match(await page.innerText("#rejected-card"), /Rejected rows \(2\)/);
  assert.match(await page.innerText("#rejected-counts"), /pay_1\.csv\s+positive\s+2/);
  assert.match(await page.innerText("#rejected-rows"), /line 3\s+breaks rule positive\s+\{"id":2,"amount":-3\}/);
  assert.match(await page.innerText("#job-info"), /up to 50% per file to pay_rejected/);
  await shot("23-rejected-rows");
  // The rule fixed; the replay loads the row that passes now and keeps the other.
  await page.fill("#edit-rules", "not_zero: amount <> 0");
  await page.click("#edit-check");
  await page.waitForSelector("#edit-changes");
  await page.click("#edit-save");
  await page.waitForFunction(() => document.getElementById("edit-msg").textContent.includes("Saved"));
  await page.click("#replay");
  await page.waitForFunction(() => /Rejected rows \(1\)/.test(document.getElementById("rejected-card").textContent));
  assert.match(await page.innerText("#rejected-msg"), /succeeded.*1 row\(s\) loaded, 1 quarantined again/);
  assert.match(await page.innerText("#rejected-card"), /Rejected rows \(1\)/);
  assert.match(await page.innerText("#rejected-counts"), /not_zero\s+1/);
  const { rejected } = await getJSON("/api/jobs/pay/rejected");
  assert.equal(rejected.total, 1);
  assert.equal(rejected.rows[0].record_number, 3);
  // A dedup key, set on the same card and shown in the job's info.
  await page.fill("#edit-dedup-key", "id");
  await page.selectOption("#edit-dedup-keep", "last");
  await page.click("#edit-check");
  await page.waitForSelector("#edit-changes");
  assert.match(await page.innerText("#edit-changes"), /dedup: none → key id \(keep last\)/);
  await page.click("#edit-save");
  await page.waitForFunction(() => document.getElementById("edit-msg").textContent.includes("Saved"));
  assert.match(await page.innerText("#job-info"), /Dedup\s+by id, keep the last/);
});
