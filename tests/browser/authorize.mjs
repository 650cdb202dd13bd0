// Drives Debian's Chromium through calsync's authorization page, as tests/e2e/browser.rs asks:
// opens the authorize URL, picks a service (the button id, "choose-calsync" by default; with
// "choose-google" or "choose-microsoft" the browser goes through that provider's sign-in and
// back), waits until the browser goes to the application's redirect URI and prints
// {"url": <final URL>, "title": <page title>}.
//
//     node authorize.mjs <authorize-url> <redirect-uri> [button-id]
//
// CALSYNC_TEST_CHROMIUM names the browser binary (infra/browser.sh installs it). Console messages
// (a blocked form submission shows up there) go to stderr for the test's failure message.
import { chromium } from 'playwright-core';

const [authorizeUrl, redirectUri, button = 'choose-calsync'] = process.argv.slice(2);
if (!authorizeUrl || !redirectUri) {
  console.error('usage: node authorize.mjs <authorize-url> <redirect-uri>');
  process.exit(2);
}
const executablePath = process.env.CALSYNC_TEST_CHROMIUM || '/usr/bin/chromium';

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (message) => console.error(`console ${message.type()}: ${message.text()}`));
  page.on('response', (response) => console.error(`response ${response.status()} ${response.url().split('?')[0]}`));

  const response = await page.goto(authorizeUrl);
  if (!response || response.status() !== 200) {
    throw new Error(`the authorize page answered ${response ? response.status() : 'nothing'}`);
  }
  const title = await page.title();
  // The browser's request to the redirect URI is what matters: it is only made if the page let
  // the form's redirect through. calsync answers that URL with 404 (it is the application's),
  // which Chromium reports as a failed navigation, so the navigation's outcome is not awaited.
  const reachedApplication = page.waitForRequest(
    (request) => request.isNavigationRequest() && request.url().startsWith(redirectUri),
  );
  await page.click(`#${button}`, { noWaitAfter: true });
  const callback = await reachedApplication;
  process.stdout.write(`${JSON.stringify({ url: callback.url(), title })}\n`);
} finally {
  await browser.close();
}
