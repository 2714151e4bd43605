// The Worker's [vars] (adapters/runtime/cloudflare/config.ts), read in Node: the corruption check's interval
// (etcd's --experimental-corrupt-check-time as EDGECD_CORRUPT_CHECK_MS) and the defaults around it.
import { describe, expect, it } from 'vitest';
import { clusterConfig } from '../../adapters/runtime/cloudflare/config.ts';

describe('the Worker configuration', () => {
  it('turns the corruption check on with EDGECD_CORRUPT_CHECK_MS; off by default, as etcd', () => {
    expect(clusterConfig({}).corruptCheckMs).toBe(0);
    expect(clusterConfig({ EDGECD_CORRUPT_CHECK_MS: '0' }).corruptCheckMs).toBe(0);
    expect(clusterConfig({ EDGECD_CORRUPT_CHECK_MS: '5000' }).corruptCheckMs).toBe(5000);
    expect(() => clusterConfig({ EDGECD_CORRUPT_CHECK_MS: 'often' })).toThrow(
      'EDGECD_CORRUPT_CHECK_MS must be a positive number, got "often"',
    );
  });
});
