// bxd's live status page in headless Chromium: it must list the registered service with its
// owner and show counters that move.
//
//   node tests/web/status.mjs http://127.0.0.1:PORT/ SERVICE
//
// Prints "ok: NAME" / "FAILED: NAME" per check, then "N passed, M failed"; exits 1 on failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [pageUrl, service] = process.argv.slice(2);
if (!pageUrl || !service) {
  console.error('usage: node status.mjs http://127.0.0.1:PORT/ SERVICE');
  process.exit(2);
}
const executablePath = process.env.BX_CHROMIUM || '/usr/bin/chromium';
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bx-status-chromium-'));
let passed = 0, failed = 0;
const check = (name, ok, detail = '') => {
  if (ok) { passed++; console.log(`ok: ${name}`); }
  else { failed++; console.log(`FAILED: ${name} ${detail}`); }
};

const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await context.newPage();
  await page.goto(pageUrl);
  await page.waitForSelector('#status[data-state=connected]', { timeout: 10000 });
  check('the page connects to the hub over WebSocket', true);
  const row = page.locator('#services tbody tr', { hasText: service });
  await row.waitFor({ timeout: 5000 });
  const text = await row.innerText();
  check('the registered service is listed with its owner', /unix uid=\d+ pid=\d+/.test(text), text);
  const calls = async () => Number(await page.locator('#stat-calls td.num').first().innerText());
  const before = await calls();
  await page.waitForTimeout(2200); // two refreshes: the page's own calls count too
  const after = await calls();
  check('the counters move', after > before, `${before} -> ${after}`);
  const rate = await page.locator('#stat-calls td.num').nth(1).innerText();
  check('message rates are shown', /\/s$/.test(rate), rate);
} catch (e) {
  check('status page', false, e.message);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
