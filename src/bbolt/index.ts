// A portable reader and writer for bbolt database files (the format etcd keeps its backend and snapshots in).

export {
  type BoltBucket,
  type BoltItem,
  bucketEntries,
  bucketValue,
  childBucket,
  compareKeys,
} from './bucket.ts';
export { fnv1a64, type Meta } from './meta.ts';
export { BoltError, DEFAULT_PAGE_SIZE } from './page.ts';
export { type BoltDatabase, isBoltFile, readBolt, readMeta } from './reader.ts';
export { type WriteOptions, writeBolt } from './writer.ts';
