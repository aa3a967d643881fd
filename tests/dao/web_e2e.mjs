// The todo page (examples/todo/www) in headless Chromium against todo_server: it lists, adds,
// completes and filters todos, and a change made by a second client (bx.js in Node) appears
// without a reload.
//   node --experimental-websocket tests/dao/web_e2e.mjs http://127.0.0.1:PORT/
// Chromium: $BX_CHROMIUM or /usr/bin/chromium. playwright-core comes from tests/web's lock file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { connect } from '../../clients/js/bx.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = await import(path.join(here, '..', 'web', 'node_modules', 'playwright-core', 'index.mjs'));
const pageUrl = process.argv[2];
const executablePath = process.env.BX_CHROMIUM || '/usr/bin/chromium';
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bx-todo-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(10000);
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));

let passed = 0, failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED: ${name}\n  ${String(e.message ?? e).split('\n').join('\n  ')}`);
  }
}
const titles = () => page.$$eval('#list li .title', (els) => els.map((e) => e.textContent).join('|'));
async function until(what, fn, want) {
  for (let i = 0; i < 200; i++) {
    if ((await fn()) === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: got ${JSON.stringify(await fn())}, wanted ${JSON.stringify(want)}`);
}

await check('the page loads and connects', async () => {
  const res = await page.goto(pageUrl);
  if (res.status() !== 200) throw new Error(`HTTP ${res.status()}`);
  await page.waitForSelector('#status[data-state="connected"]');
});
await check('adding todos lists them, highest priority first', async () => {
  await page.fill('#title', 'Buy milk');
  await page.fill('#priority', '2');
  await page.click('#add-btn');
  await until('list', titles, 'Buy milk');
  await page.fill('#title', 'Write spec');
  await page.fill('#priority', '5');
  await page.click('#add-btn');
  await until('list', titles, 'Write spec|Buy milk');
});
await check('completing a todo marks it done and moves it down', async () => {
  await page.click('#list li:first-child .toggle');
  await until('list', titles, 'Buy milk|Write spec');
  await until('done', () => page.getAttribute('#list li:last-child', 'class'), 'done');
});
await check('filters: by title and hiding done', async () => {
  await page.fill('#filter', 'MILK');
  await until('filtered', titles, 'Buy milk');
  await page.fill('#filter', '');
  await page.check('#hide-done');
  await until('undone only', titles, 'Buy milk');
  await page.uncheck('#hide-done');
  await until('all', titles, 'Buy milk|Write spec');
});
await check('a change by another client appears without a reload', async () => {
  const other = connect(pageUrl.replace(/^http/, 'ws'), { timeout: 5000 });
  const todos = other.dao('todos');
  await todos.put({ class: 'test.Todo', id: 100, title: 'From elsewhere', priority: 9 });
  await until('after a put', titles, 'From elsewhere|Buy milk|Write spec');
  await todos.remove(100);
  await until('after a remove', titles, 'Buy milk|Write spec');
  other.close();
});
await check('no errors in the page', async () => {
  if (problems.length) throw new Error(problems.join('\n'));
});

await context.close();
fs.rmSync(profile, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
