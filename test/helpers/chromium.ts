import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium: the browser tests never download one. */
export const CHROMIUM = process.env.TOLLGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium; the sandbox needs user namespaces that containers (and root) lack. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}
