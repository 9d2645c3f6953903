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
