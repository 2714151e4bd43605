// `edgecd/browser`: a member in a browser tab or Web Worker — IndexedDB storage, the WebSocket transport that
// dials Node members (they answer on the same connection), and the in-page transport between Web Workers.

export { RealClock } from '../runtime/clock.ts';
export { IndexedDbStorage, type IndexedDbStorageOptions } from '../storage/indexeddb/index.ts';
export {
  type HubEvent,
  InPageHub,
  type InPageHubOptions,
  InPageTransport,
  PausableClock,
  type PortLike,
  type WireMessage,
} from '../transport/in-page/index.ts';
export {
  BROWSER_PEER_PATH,
  BrowserWebSocketTransport,
  type BrowserWebSocketTransportOptions,
  browserPeerUrl,
  type WebSocketFactory,
  type WebSocketLike,
} from '../transport/websocket/browser.ts';
