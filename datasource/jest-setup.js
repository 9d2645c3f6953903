// Jest setup provided by Grafana scaffolding
import './.config/jest-setup';

// jsdom has no IntersectionObserver / ResizeObserver; @grafana/ui's select menus use them.
class NoopObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
}
Object.assign(global, {
  IntersectionObserver: global.IntersectionObserver ?? NoopObserver,
  ResizeObserver: global.ResizeObserver ?? NoopObserver,
});

// jsdom has no MessageChannel; React 19's react-dom/server.browser (imported by @grafana/ui 13's TruncatedText)
// needs one at import. A timer-based pair of ports: no open handle left behind, unlike worker_threads'.
if (typeof global.MessageChannel === 'undefined') {
  class Port {
    constructor() {
      this.onmessage = null;
      this.other = null;
    }
    postMessage(data) {
      const target = this.other;
      setTimeout(() => target.onmessage && target.onmessage({ data }), 0);
    }
    start() {}
    close() {}
    addEventListener(type, fn) {
      if (type === 'message') {
        this.onmessage = fn;
      }
    }
    removeEventListener() {}
  }
  class MessageChannel {
    constructor() {
      this.port1 = new Port();
      this.port2 = new Port();
      this.port1.other = this.port2;
      this.port2.other = this.port1;
    }
  }
  Object.assign(global, { MessageChannel });
}
