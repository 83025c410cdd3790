// What the Mini App takes from @telegram-apps/bridge. update.sh bundles this
// file into dist/telegram-bridge.js as an IIFE that sets `window.tgBridge`;
// only the names exported here end up in the bundle (esbuild tree-shakes the
// rest), so add a name here when themes/miniapp/app.js starts to use it.
export {
  // Calling Telegram: web_app_* methods and their answers.
  postEvent,
  supports,
  invokeCustomMethod,
  // Listening: theme_changed, viewport_changed, main_button_pressed, …
  on,
  off,
  // Launch parameters (URL hash, then the navigation entry, then sessionStorage).
  retrieveRawLaunchParams,
  // Where the page runs: Telegram Web (iframe) or a native client (webview proxy).
  isIframe,
  hasWebviewProxy,
  // For tests and development outside Telegram.
  mockTelegramEnv,
  emitEvent,
  setDebug,
} from '@telegram-apps/bridge';
