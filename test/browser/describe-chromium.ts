// `describe` for test files that drive Chromium (kept apart from ./chromium.ts, which scripts outside vitest use).

import { describe, it } from 'vitest';
import { CHROMIUM_PATH, chromiumPresent } from './chromium.ts';

const CI = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI);

/**
 * `describe` for tests that drive Chromium: without it they are skipped (saying why) on a developer's machine,
 * and fail under CI, where a missing browser is a broken install.
 */
export function describeWithChromium(name: string, body: () => void): void {
  if (chromiumPresent()) {
    describe(name, body);
  } else if (CI) {
    describe(name, () => {
      it('needs Chromium', () => {
        throw new Error(`${CHROMIUM_PATH} not found and CI is set: install it (apt-get install -y chromium)`);
      });
    });
  } else {
    describe.skip(`${name} — skipped: ${CHROMIUM_PATH} not found (apt-get install -y chromium)`, body);
  }
}
