import { MemoryStorage, MemoryStorageBackend } from '../../adapters/storage/memory/index.ts';
import { runStorageConformance } from '../conformance/storage.ts';

runStorageConformance('memory', async () => {
  const backend = new MemoryStorageBackend();
  return {
    open: async () => new MemoryStorage(backend),
    cleanup: async () => {},
  };
});
