#!/usr/bin/env node
// The `edgecd` command. Node 20 cannot run TypeScript directly, so load the sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
