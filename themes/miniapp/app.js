// TiketHet Mini App: a customer's tickets inside Telegram. Plain JS, no
// framework, no build step. See README.md for the API calls and test hooks.
// Telegram is reached through window.tgBridge (@telegram-apps/bridge, vendored);
// outside Telegram every Telegram button has an in-page stand-in.
const doc = document, body = doc.body, root = doc.documentElement;
const B = window.tgBridge;
const cfg = body.dataset;
const BASE = cfg.base || '';
const STATUSES = ['open', 'in_progress', 'waiting_response', 'resolved', 'closed'];
const PRIORITIES = ['low', 'normal', 'high', 'critical'];
const LIMITS = { title: 200, description: 2000 };
const hooks = (window.__tikethet = { lastListRenderMs: null });

// ---------- small helpers ----------
// h('button.btn.wide', {attrs}, ...children); attrs may be left out. Children
// are nodes or strings (text, never HTML).
function h(spec, props, ...kids) {
  const [tag, ...cls] = spec.split('.');
  const el = doc.createElement(tag);
  if (cls.length) el.className = cls.join(' ');
  if (tag === 'button') el.type = 'button';
  if (props == null || typeof props !== 'object' || props instanceof Node || Array.isArray(props)) { kids.unshift(props); props = {}; }
  for (const k in props) {
    const v = props[k];
    if (v == null || v === false) continue;
    if (k === 'class') el.className += ' ' + v;
    else if (k === 'tid') el.dataset.testid = v;
    else if (k === 'value') el.value = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) if (c != null && c !== false) el.append(c);
  return el;
}
const $ = (sel, el = doc) => el.querySelector(sel);
const field = (k, ...kids) => h('label.field', h('span', t(k)), ...kids);
const chars = (s) => [...s].length; // the server counts Unicode scalar values
const debounce = (fn, ms) => { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; };
const setState = (s) => { body.dataset.state = s; view.setAttribute('aria-busy', String(s === 'loading')); };
const storeKey = (k) => `tikethet_${(cfg.slug || 'desk').replace(/[^\w-]/g, '_')}_${k}`;
function ls(k, v) {
  try { if (v === undefined) return localStorage.getItem(storeKey(k)); if (v === null) localStorage.removeItem(storeKey(k)); else localStorage.setItem(storeKey(k), v); } catch { return null; }
}

// ---------- strings ----------
// The page holds its own language's words; another of the desk's
// languages is fetched once when Telegram says the user speaks it.
const STR = {};
let LANGS = {};
let lang = 'en';
try { const s = JSON.parse($('#strings').textContent); STR[s.lang] = s.strings; LANGS = s.langs; lang = s.lang; } catch { /* the keys show instead */ }
function pickLang(code) {
  const c = String(code || '').toLowerCase().replace('_', '-');
  const all = Object.keys(LANGS);
  return c ? all.find((l) => l.toLowerCase() === c) || all.find((l) => l.toLowerCase().split('-')[0] === c.split('-')[0]) : undefined;
}
// A Telegram user's language_code if the desk speaks it, else the page's.
async function setLang(code, fallback) {
  const want = pickLang(code) || pickLang(fallback) || lang;
  if (!STR[want]) {
    try {
      const r = await fetch(`${cfg.base}/app/strings/${encodeURIComponent(want)}.json`);
      if (r.ok) STR[want] = await r.json();
    } catch { /* keep the page's words */ }
  }
  if (STR[want]) lang = want;
  root.lang = lang;
}
function t(key, vars) {
  const s = (STR[lang] && STR[lang][key]) || key;
  return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m)) : s;
}
root.lang = lang;
const fmtTime = (iso) => {
  const d = new Date(iso), now = new Date();
  if (isNaN(d)) return '';
  const same = d.toDateString() === now.toDateString();
  return d.toLocaleString(lang, same ? { hour: '2-digit', minute: '2-digit' } : { day: 'numeric', month: 'short', ...(d.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }) });
};
const fmtSize = (n) => (n > 1048576 ? (n / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(n / 1024)) + ' KB');

// ---------- Telegram ----------
// Launch parameters arrive in the URL hash (tgWebAppData, tgWebAppThemeParams,
// tgWebAppVersion, …): https://docs.telegram-mini-apps.com/platform/launch-parameters
function launchParams() {
  let raw = '';
  try { raw = B.retrieveRawLaunchParams(); } catch { /* strict parse failed or no Telegram: read them ourselves */ }
  if (!raw) {
    const pick = (u) => { const q = String(u || '').replace(/^[^?#]*[?#]/, '').replace(/[?#]/g, '&'); return q.includes('tgWebApp') ? q : ''; };
    const nav = performance.getEntriesByType && performance.getEntriesByType('navigation')[0];
    try { raw = pick(location.href) || pick(nav && nav.name) || sessionStorage.getItem('tikethet_lp') || ''; if (raw) sessionStorage.setItem('tikethet_lp', raw); } catch { raw = pick(location.href); }
  }
  const p = new URLSearchParams(raw), init = new URLSearchParams(p.get('tgWebAppData') || '');
  const json = (s) => { try { return JSON.parse(s); } catch { return null; } };
  return {
    initData: p.get('tgWebAppData') || '',
    user: json(init.get('user')),
    startParam: init.get('start_param') || p.get('tgWebAppStartParam') || '',
    theme: json(p.get('tgWebAppThemeParams')) || {},
    version: p.get('tgWebAppVersion') || '6.0',
  };
}
const lp = launchParams();
const tg = {
  // True when a Telegram client listens: a native webview or Telegram Web's iframe.
  live: !!B && (B.isIframe() || B.hasWebviewProxy(window) || typeof (window.external && window.external.notify) === 'function'),
  supports(m) { try { return B.supports(m, lp.version); } catch { return false; } },
  post(m, params) {
    if (!tg.live || !tg.supports(m)) return false;
    try { B.postEvent(m, params); return true; } catch { return false; }
  },
  on(ev, fn) { if (B) B.on(ev, fn); },
};

const snake = (k) => k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
function applyTheme(tp) {
  for (const [k, v] of Object.entries(tp || {})) {
    if (typeof v === 'string' && /^#[\da-f]{3,8}$/i.test(v)) root.style.setProperty(`--tg-theme-${snake(k).replace(/_/g, '-')}`, v);
  }
  const bg = (tp && (tp.bg_color || tp.bgColor)) || '';
  const m = /^#([\da-f]{2})([\da-f]{2})([\da-f]{2})/i.exec(bg);
  if (m) {
    const [r, g, b] = m.slice(1).map((x) => parseInt(x, 16));
    root.dataset.scheme = 0.299 * r + 0.587 * g + 0.114 * b < 128 ? 'dark' : 'light';
  }
}
function px(name, obj) {
  for (const side of ['top', 'bottom', 'left', 'right']) if (obj && typeof obj[side] === 'number') root.style.setProperty(`--tg-${name}-inset-${side}`, obj[side] + 'px');
}
function setupTelegram() {
  applyTheme(lp.theme);
  tg.on('theme_changed', (e) => { applyTheme(e && e.theme_params); if (main.visible) setMain({ ...main }); });
  tg.on('viewport_changed', (e) => {
    if (!e || typeof e.height !== 'number') return;
    root.style.setProperty('--tg-viewport-height', e.height + 'px');
    if (e.is_state_stable) root.style.setProperty('--tg-viewport-stable-height', e.height + 'px');
  });
  tg.on('safe_area_changed', (e) => px('safe-area', e));
  tg.on('content_safe_area_changed', (e) => px('content-safe-area', e));
  tg.on('main_button_pressed', () => main.onClick && !main.progress && main.onClick());
  tg.on('back_button_pressed', () => goBack());
  for (const m of ['ready', 'expand', 'request_theme', 'request_viewport', 'request_safe_area', 'request_content_safe_area']) tg.post('web_app_' + m);
  tg.post('web_app_set_header_color', { color_key: 'bg_color' });
  // Pull to refresh needs vertical swipes for ourselves (Bot API 7.7).
  tg.post('web_app_setup_swipe_behavior', { allow_vertical_swipe: false });
}
const haptic = (type) => tg.post('web_app_trigger_haptic_feedback', { type: 'notification', notification_type: type });
let closingConfirm = null;
function setClosingConfirmation(on) {
  if (on === closingConfirm) return;
  closingConfirm = on;
  tg.post('web_app_setup_closing_behavior', { need_confirmation: on });
}

// MainButton / BackButton, or in-page stand-ins when Telegram is not there.
const main = { text: '', visible: false, progress: false, onClick: null, tid: '' };
const mainBtn = h('button.btn.wide', { id: 'main-button', onclick: () => main.onClick && !main.progress && main.onClick() });
function setMain(opts) {
  Object.assign(main, { visible: true, progress: false, tid: '' }, opts);
  const css = (k) => root.style.getPropertyValue('--tg-theme-' + k).trim() || undefined; // undefined: left out of the JSON
  const shown = tg.post('web_app_setup_main_button', {
    is_visible: main.visible, is_active: !main.progress, is_progress_visible: main.progress, text: main.text || '…',
    color: css('button-color'), text_color: css('button-text-color'),
  });
  mainBtn.textContent = main.text;
  mainBtn.disabled = main.progress;
  mainBtn.classList.toggle('busy', main.progress);
  mainBtn.dataset.testid = main.tid || 'main-button';
  mainBtn.hidden = shown || !main.visible;
  syncBar();
}
// The bottom bar collapses to the safe-area inset when nothing in it shows.
const syncBar = () => { const b = doc.getElementById('bar'); if (b) b.classList.toggle('none', ![...b.children].some((c) => !c.hidden)); };
const hideMain = () => setMain({ visible: false, onClick: null });
let backHandler = null;
function setBack(handler) {
  backHandler = handler;
  tg.post('web_app_setup_back_button', { is_visible: !!handler });
}
const goBack = () => backHandler && backHandler();
// In-page Back, shown only outside Telegram (Telegram's BackButton is the real one).
const backLink = () => (tg.live ? null : h('button.link.back', { tid: 'back', onclick: goBack }, '← ' + t('back')));

function confirmBox(message) {
  if (tg.supports('web_app_open_popup') && tg.live) {
    return new Promise((resolve) => {
      B.on('popup_closed', (e) => resolve(!!e && e.button_id === 'ok'), true);
      if (!tg.post('web_app_open_popup', { message, buttons: [{ id: 'ok', type: 'ok' }, { id: 'cancel', type: 'cancel' }] })) resolve(false);
    });
  }
  return new Promise((resolve) => {
    const dlg = h('dialog', { tid: 'confirm' }, h('p', message), h('div.acts',
      h('button.btn.ghost', { value: 'cancel', tid: 'confirm-cancel', onclick: () => dlg.close('cancel') }, t('cancel')),
      h('button.btn', { value: 'ok', tid: 'confirm-ok', onclick: () => dlg.close('ok') }, t('ok'))));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'ok'); });
    body.append(dlg);
    dlg.showModal();
  });
}

// Drafts: Telegram CloudStorage (Bot API 6.9) when there, else localStorage.
const cloud = {
  call: (m, p) => (tg.live && tg.supports('web_app_invoke_custom_method') ? B.invokeCustomMethod(m, p, String(Math.random()).slice(2), { timeout: 3000 }) : Promise.reject()),
  async get(key) {
    try { return (await cloud.call('getStorageValues', { keys: [storeKey(key)] }))[storeKey(key)] || null; } catch { return ls(key); }
  },
  set(key, value) {
    ls(key, value);
    const k = storeKey(key);
    return (value === null ? cloud.call('deleteStorageValues', { keys: [k] }) : cloud.call('saveStorageValue', { key: k, value })).catch(() => {});
  },
};

// ---------- toasts ----------
const toastBox = $('#toast');
let toastTimer;
function toast(text, isError) {
  const el = h('div', { role: isError ? 'alert' : null, tid: 'toast' }, text);
  toastBox.replaceChildren(el);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.remove(), isError ? 6000 : 3500);
}

// ---------- API ----------
class ApiError extends Error {
  constructor(status, code, message, retryAfter) { super(message); Object.assign(this, { status, code, retryAfter }); }
}
async function toError(res) {
  let code = '', message = '';
  try { const j = await res.json(); code = (j.error && j.error.code) || ''; message = (j.error && j.error.message) || ''; } catch { /* not JSON */ }
  const s = res.status;
  if (s === 429) {
    const after = parseInt(res.headers.get('Retry-After'), 10) || 30;
    return new ApiError(s, code || 'rate_limited', t('err_rate', { s: after }), after);
  }
  const e = new ApiError(s, code, s >= 500 ? t('err_server') : message || t(s === 404 ? 'err_not_found' : 'err_generic'));
  e.server = s < 500 && message;
  return e;
}
const SESSION = storeKey('auth');
let auth = null;
try { auth = JSON.parse(sessionStorage.getItem(SESSION)); } catch { auth = null; }
function saveAuth(a, language) {
  auth = { access: a.access_token, refresh: a.refresh_token, user: a.user, lang: language || (auth && auth.lang) || '' };
  try { sessionStorage.setItem(SESSION, JSON.stringify(auth)); } catch { /* memory only */ }
}
async function api(method, path, payload, opt = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { 'Accept-Language': lang };
    if (auth && auth.access && !opt.anon) headers.Authorization = 'Bearer ' + auth.access;
    let bodyData;
    if (payload instanceof FormData) bodyData = payload;
    else if (payload !== undefined) { headers['Content-Type'] = 'application/json'; bodyData = JSON.stringify(payload); }
    let res;
    try { res = await fetch(BASE + '/api/v1' + path, { method, headers, body: bodyData }); } catch { throw new ApiError(0, 'network', t('err_network')); }
    if (res.status === 401 && !opt.anon && attempt === 0 && (await reauth())) continue;
    if (!res.ok) throw await toError(res);
    if (opt.blob) return res.blob();
    return res.status === 204 ? null : res.json();
  }
}
// A 401: refresh once; if that fails, sign in again with initData.
let reauthing = null;
function reauth() {
  if (!reauthing) reauthing = (async () => {
    for (const [path, body_] of [['refresh', auth && auth.refresh && { refresh_token: auth.refresh }], ['telegram', lp.initData && { init_data: lp.initData }]]) {
      try { if (body_) { saveAuth(await api('POST', '/auth/' + path, body_, { anon: true })); return true; } } catch { /* next way, then the sign-in screen */ }
    }
    try { sessionStorage.removeItem(SESSION); } catch { /* ignore */ }
    auth = null;
    showSignIn(t('err_signin'));
    return false;
  })().finally(() => setTimeout(() => { reauthing = null; }, 0));
  return reauthing;
}
const blobs = new Map();
function attachmentUrl(id) {
  if (!blobs.has(id)) blobs.set(id, api('GET', '/attachments/' + id, undefined, { blob: true }).then((b) => URL.createObjectURL(b)).catch((e) => { blobs.delete(id); throw e; }));
  return blobs.get(id);
}
let categoriesP = null;
const catLabel = (c) => `${c.icon || ''} ${c.name}`.trim();
const findCat = (cats, id) => (id == null ? null : (cats || []).find((c) => String(c.id) === String(id)));
const categories = () => (categoriesP = categoriesP || api('GET', '/categories').then((r) => (r.items || []).filter((c) => c.active !== false).sort((a, b) => (a.position || 0) - (b.position || 0))).catch(() => { categoriesP = null; return []; }));

// Upload one file; returns {id, name, content_type, size, kind}.
async function upload(file) {
  const form = new FormData();
  form.append('file', file, file.name);
  try { return await api('POST', '/uploads', form); } catch (e) {
    // 413 too large, 415 type refused: the server's message says the limit.
    const name = file.name;
    if (e.status === 413 || e.status === 415) e.message = e.server ? t('err_file', { name, message: e.server }) : t(e.status === 413 ? 'err_too_large' : 'err_type', { name });
    throw e;
  }
}

// ---------- views and navigation ----------
const view = $('#view'), bar = $('#bar');
let current = { name: '', leave: null };
function mount(name, el, barKids) {
  if (current.leave) current.leave();
  current = { name, leave: null };
  body.dataset.view = name;
  view.replaceChildren(...[].concat(el).filter(Boolean));
  bar.replaceChildren(...[].concat(barKids || []).filter(Boolean), mainBtn);
  hideMain();
  setBack(null);
  setClosingConfirmation(false);
}
// Routes: #/ (list), #/new, #/tickets/<id>. history.state.d counts our own
// pushes so Back never leaves the app.
function go(hash, replace) {
  const d = (history.state && history.state.d) || 0;
  if (replace) history.replaceState({ d }, '', hash); else history.pushState({ d: d + 1 }, '', hash);
  route();
}
function back() {
  if (history.state && history.state.d > 0) history.back(); else go('#/', true);
}
function route() {
  if (!auth) return;
  const m = /^#\/tickets\/([\w-]+)$/.exec(location.hash);
  if (m) return showTicket(m[1]);
  if (location.hash === '#/new') return showNew();
  return showList();
}
// A history step fires popstate and, for a new hash, hashchange too: route once.
let routeQueued = false;
const routeSoon = () => { if (!routeQueued) { routeQueued = true; setTimeout(() => { routeQueued = false; route(); }); } };
addEventListener('popstate', routeSoon);
addEventListener('hashchange', routeSoon);

// ---------- sign-in ----------
function showSignIn(error) {
  live.stop();
  mount('signin', []);
  if (error) {
    view.append(h('div.center', { role: 'alert' }, h('div.big', '⚠️'), h('p', error),
      h('button.btn', { tid: 'retry', onclick: () => location.reload() }, t('retry'))));
    return setState('error');
  }
  if (cfg.devSignIn !== undefined && !lp.initData) {
    const id = h('input.input', { type: 'number', inputmode: 'numeric', required: true, min: 1, name: 'telegram_id', tid: 'dev-telegram-id', value: ls('dev_id') || '' });
    const name = h('input.input', { required: true, name: 'first_name', maxlength: 64, tid: 'dev-first-name', value: ls('dev_name') || '' });
    const language = h('select.input', { name: 'language_code', tid: 'dev-language' }, Object.keys(LANGS).map((c) => h('option', { value: c, selected: c === lang }, LANGS[c])));
    const err = h('p.err', { role: 'alert' });
    const submit = h('button.btn.wide', { type: 'submit', tid: 'dev-submit' }, t('dev_submit'));
    const form = h('form.card.dev', { tid: 'dev-sign-in' }, h('h1', '🛠 ' + t('dev_title')), h('p.hint', t('dev_note')),
      field('dev_id', id), field('dev_name', name), field('dev_lang', language), err, submit);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      submit.disabled = true; err.textContent = '';
      try {
        const a = await api('POST', '/auth/dev', { telegram_id: Number(id.value), first_name: name.value.trim(), language_code: language.value }, { anon: true });
        ls('dev_id', id.value); ls('dev_name', name.value.trim());
        saveAuth(a, language.value);
        start();
      } catch (e) { err.textContent = e.message; submit.disabled = false; }
    });
    view.append(form);
  } else {
    view.append(h('div.center', { tid: 'open-from-bot' }, h('div.big', '💬'), h('h1', t('open_bot_title')), h('p.hint', t('open_bot_text'))));
  }
  setState('ready');
}

// ---------- ticket list ----------
const L = { el: null, status: '', q: '', category: '', priority: '', cursor: null, items: new Map(), counts: null, seq: 0, busy: false, stale: false, scroll: 0 };
const statusBadge = (s) => h('span', { class: 'badge s-' + s, tid: 'status' }, t('status_' + s));
function ticketItem(tk, cats) {
  const cat = tk.category_id != null ? findCat(cats, tk.category_id) : null;
  const lm = tk.last_message;
  const who = lm ? (lm.author_role === 'user' ? t('you') + ': ' : lm.author_role === 'system' ? '' : t('support') + ': ') : '';
  const a = h('a.ti', { href: '#/tickets/' + tk.id, tid: 'ticket-item', 'data-ticket-id': tk.id, 'data-status': tk.status },
    h('div.row', h('span.num', '#' + tk.number), cat ? h('span', { title: cat.name }, cat.icon) : null, h('span.tt', tk.title), h('time.time', { datetime: tk.updated_at }, fmtTime(tk.updated_at))),
    h('div.row', h('span.pv', lm ? who + lm.text : tk.description), tk.priority === 'high' || tk.priority === 'critical' ? h('span', { class: 'pri p-' + tk.priority }, t('priority_' + tk.priority)) : null, statusBadge(tk.status)));
  a.addEventListener('click', (e) => { e.preventDefault(); go('#/tickets/' + tk.id); });
  return h('li', a);
}
function showList() {
  if (!L.el) buildList();
  mount('list', L.el);
  view.scrollTop = L.scroll;
  current.leave = () => { L.scroll = view.scrollTop; };
  setMain({ text: t('new_ticket'), tid: 'new-ticket', onClick: () => go('#/new') });
  if (!L.counts || L.stale) loadPage(true, !!L.counts); else setState('ready');
  maybeAskWriteAccess();
}
function buildList() {
  const logo = cfg.logo ? h('img', { src: cfg.logo, alt: '' }) : null;
  const search = h('input.input', { type: 'search', placeholder: t('search'), 'aria-label': t('search'), tid: 'search', enterkeyhint: 'search' });
  search.addEventListener('input', debounce(() => { L.q = search.value.trim(); loadPage(true); }, 350));
  const chips = h('div.chips',
    ['', ...STATUSES].map((s) => h('button.chip', { 'aria-pressed': String(s === L.status), tid: 'status-chip-' + (s || 'all'), 'data-status': s, onclick: () => { L.status = s; syncChips(); loadPage(true); } },
      t('status_' + (s || 'all')), h('span.n', { tid: 'status-count-' + (s || 'all') }))));
  const catSel = h('select.input', { 'aria-label': t('category'), tid: 'filter-category', onchange: () => { L.category = catSel.value; loadPage(true); } }, h('option', { value: '' }, t('any_category')));
  const priSel = h('select.input', { 'aria-label': t('priority'), tid: 'filter-priority', onchange: () => { L.priority = priSel.value; loadPage(true); } },
    h('option', { value: '' }, t('any_priority')), PRIORITIES.map((p) => h('option', { value: p }, t('priority_' + p))));
  categories().then((cs) => { catSel.append(...cs.map((c) => h('option', { value: c.id }, catLabel(c)))); catSel.hidden = !cs.length; });
  const list = h('ul.tickets', { tid: 'ticket-list', 'aria-live': 'polite' });
  const more = h('button.btn.ghost.more', { tid: 'load-more', hidden: true, onclick: () => loadPage(false) }, t('load_more'));
  const ptr = h('div.ptr', { 'aria-hidden': 'true' });
  const note = h('div', { tid: 'list-status' });
  L.el = h('div', ptr,
    h('div.desk', logo, h('b', cfg.desk || ''), h('button.icon', { 'aria-label': t('refresh'), title: t('refresh'), tid: 'refresh', onclick: () => loadPage(true) }, '↻')),
    h('div', { id: 'wa' }), search, chips, h('div.filters', catSel, priSel), list, note, more);
  Object.assign(L, { list, more, note, chips, search, catSel, priSel, ptr });
  if ('IntersectionObserver' in window) new IntersectionObserver((es) => { if (es[0].isIntersecting && L.cursor && !L.busy) loadPage(false); }, { root: view, rootMargin: '300px' }).observe(more);
  pullToRefresh(ptr);
}
function syncChips() { for (const b of L.chips.children) b.setAttribute('aria-pressed', String(b.dataset.status === L.status)); }
function syncCounts() {
  const c = L.counts || {};
  let all = 0;
  for (const s of STATUSES) { all += c[s] || 0; $(`[data-testid="status-count-${s}"]`, L.chips).textContent = c[s] || 0; }
  $('[data-testid="status-count-all"]', L.chips).textContent = all;
}
const filtered = () => !!(L.status || L.q || L.category || L.priority);
async function loadPage(reset, silent) {
  const seq = ++L.seq;
  L.busy = true;
  if (reset) {
    L.cursor = null;
    if (!silent) { setState('loading'); L.list.replaceChildren(); L.more.hidden = true; L.note.replaceChildren(h('div', { 'aria-hidden': 'true' }, h('div.skel'), h('div.skel'), h('div.skel'))); }
  }
  const q = new URLSearchParams({ sort: '-updated_at', limit: '50' });
  for (const k of ['status', 'category', 'priority', 'q']) if (L[k]) q.set(k, L[k]);
  if (!reset && L.cursor) q.set('cursor', L.cursor);
  try {
    const [data, cats] = await Promise.all([api('GET', '/tickets?' + q), categories()]);
    if (seq !== L.seq) return;
    const t0 = performance.now();
    const frag = doc.createDocumentFragment();
    if (reset) L.items.clear();
    for (const tk of data.items || []) { L.items.set(String(tk.id), tk); frag.append(ticketItem(tk, cats)); }
    if (reset) L.list.replaceChildren(frag); else L.list.append(frag);
    L.cursor = data.next_cursor || null;
    L.more.hidden = !L.cursor;
    if (data.counts) { L.counts = data.counts; syncCounts(); }
    L.note.replaceChildren(L.items.size ? '' : emptyState());
    L.el.classList.toggle('bare', !L.items.size && !filtered()); // no tickets at all: no filters to show
    L.stale = false;
    void L.list.offsetHeight; // include style and layout in the measurement
    hooks.lastListRenderMs = performance.now() - t0;
    setState('ready');
  } catch (e) {
    if (seq !== L.seq) return;
    if (reset && !silent) L.note.replaceChildren(errorBox(e, () => loadPage(true)));
    else toast(e.message, true);
    if (reset && !silent) setState('error');
  } finally { if (seq === L.seq) L.busy = false; }
}
function emptyState() {
  if (filtered()) {
    return h('div.empty', { tid: 'empty-filtered' }, h('p', t('empty_filtered')),
      h('button.btn.ghost', { onclick: () => { Object.assign(L, { status: '', q: '', category: '', priority: '' }); L.search.value = ''; L.catSel.value = ''; L.priSel.value = ''; syncChips(); loadPage(true); } }, t('clear_filters')));
  }
  return h('div.empty', { tid: 'empty' }, h('div.big', '📨'), h('h2', t('empty_title')), h('p.hint', t('empty_text')),
    h('button.btn', { tid: 'empty-new-ticket', onclick: () => go('#/new') }, t('new_ticket')));
}
function errorBox(e, action, label) {
  return h('div.empty', { role: 'alert', tid: 'error' }, h('p', e.message), h('button.btn.ghost', { tid: label ? 'to-list' : 'retry', onclick: action }, label || t('retry')));
}
function pullToRefresh(ptr) {
  let y0 = null, dy = 0;
  view.addEventListener('touchstart', (e) => { y0 = current.name === 'list' && view.scrollTop <= 0 ? e.touches[0].clientY : null; dy = 0; }, { passive: true });
  view.addEventListener('touchmove', (e) => {
    if (y0 == null) return;
    dy = Math.max(0, e.touches[0].clientY - y0);
    ptr.style.height = Math.min(dy / 2, 48) + 'px';
    ptr.textContent = dy > 120 ? t('release_refresh') : t('pull_refresh');
  }, { passive: true });
  view.addEventListener('touchend', () => {
    if (y0 != null && dy > 120) { loadPage(true, true); haptic('success'); }
    y0 = null; ptr.style.height = '0';
  });
}
// Bot API 6.9: ask once, politely, when initData says the bot may not write to us.
function maybeAskWriteAccess() {
  const box = $('#wa');
  if (!box || !lp.user || lp.user.allows_write_to_pm !== false || ls('wa_asked') || !tg.live || !tg.supports('web_app_request_write_access')) return;
  const done = () => { ls('wa_asked', '1'); box.replaceChildren(); };
  box.replaceChildren(h('div.card', { tid: 'write-access' }, h('b', t('wa_title')), h('p.hint', t('wa_text')),
    h('div.acts', h('button.btn', { onclick: () => { done(); tg.post('web_app_request_write_access'); } }, t('wa_allow')), h('button.btn.ghost', { onclick: done }, t('wa_later')))));
}
function listUpsert(tk, countsShift) {
  if (!L.el) return;
  const key = String(tk.id), old = L.items.get(key);
  if (countsShift && L.counts && old && old.status !== tk.status) {
    L.counts[old.status] = Math.max(0, (L.counts[old.status] || 0) - 1);
    L.counts[tk.status] = (L.counts[tk.status] || 0) + 1;
    syncCounts();
  }
  if (!old || (L.status && L.status !== tk.status)) { L.stale = true; if (current.name === 'list') loadPage(true, true); return; }
  L.items.set(key, tk);
  categories().then((cats) => {
    const li = $(`[data-ticket-id="${CSS.escape(key)}"]`, L.list);
    if (li) li.parentNode.remove();
    L.list.prepend(ticketItem(tk, cats)); // sorted by -updated_at: the changed one goes first
  });
}

// ---------- new ticket ----------
const DRAFT = 'draft';
const emptyDraft = () => ({ category_id: undefined, priority: 'normal', title: '', description: '', attachments: [] });
let draft = null;
const draftFilled = () => !!draft && !!(draft.title || draft.description || draft.attachments.length);
const saveDraft = debounce(() => {
  if (!draft) return;
  cloud.set(DRAFT, draftFilled() ? JSON.stringify({ ...draft, attachments: draft.attachments.filter((a) => a.id).map(({ id, name, kind, size, content_type }) => ({ id, name, kind, size, content_type })) }) : null);
}, 400);
async function showNew() {
  mount('new', h('div.skel'));
  setState('loading');
  const leaveTo = back;
  setBack(leaveTo);
  const [cats, saved] = await Promise.all([categories(), draft ? null : cloud.get(DRAFT)]);
  if (body.dataset.view !== 'new') return;
  if (!draft) { try { draft = { ...emptyDraft(), ...(saved ? JSON.parse(saved) : {}) }; } catch { draft = emptyDraft(); } }
  const step = (name) => {
    setClosingConfirmation(draftFilled());
    if (name === 'category' && cats.length) return stepCategory(cats, step, leaveTo);
    if (name === 'preview') return stepPreview(cats, step);
    return stepForm(cats, step, cats.length ? () => step('category') : leaveTo);
  };
  step(draft.category_id === undefined ? 'category' : 'form');
  current.leave = () => { saveDraft(); setClosingConfirmation(false); };
  setState('ready');
}
function stepCategory(cats, step, onBack) {
  setBack(onBack);
  hideMain();
  const pick = (id) => { draft.category_id = id; saveDraft(); step('form'); };
  const tile = (id, icon, name, color) => h('button.cat', { style: color && /^#[\da-f]{6}$/i.test(color) ? `--c:${color}` : null, 'aria-pressed': String(draft.category_id !== undefined && String(draft.category_id) === String(id)), tid: 'new-category-' + (id == null ? 'none' : id), onclick: () => pick(id) }, h('span.ic', { 'aria-hidden': 'true' }, icon), h('span', name));
  view.replaceChildren(backLink() || '', h('h1', t('step_category')),
    h('div.cats', { tid: 'new-categories' }, cats.map((c) => tile(c.id, c.icon || '📁', c.name, c.color)), tile(null, '💬', t('no_category'))));
  view.scrollTop = 0;
}
function counter(input, max, tid) {
  const c = h('span', { tid }, `${chars(input.value)}/${max}`);
  input.addEventListener('input', () => { c.textContent = `${chars(input.value)}/${max}`; });
  return c;
}
function attachmentChip(a, onRemove) {
  const thumb = a.url && (a.kind === 'photo' || (a.content_type || '').startsWith('image/')) ? h('img', { src: a.url, alt: '' }) : h('span', { 'aria-hidden': 'true' }, '📄');
  return h('div', { class: 'att' + (a.error ? ' bad' : ''), tid: 'attachment', 'data-state': a.error ? 'error' : a.id ? 'done' : 'uploading' }, thumb,
    h('span.nm', a.error || a.name), a.id || a.error ? null : h('span.spin', { 'aria-label': t('uploading') }),
    h('button.x', { 'aria-label': t('remove', { name: a.name }), tid: 'attachment-remove', onclick: onRemove }, '✕'));
}
// Attachment picker shared by the new-ticket form and the composer.
function attachments(list, onChange, tid, label) {
  const box = h('div.atts', { tid: tid + '-attachments' });
  const render = () => { box.replaceChildren(...list.map((a) => attachmentChip(a, () => { list.splice(list.indexOf(a), 1); if (a.url) URL.revokeObjectURL(a.url); render(); onChange(); }))); };
  const input = h('input', { type: 'file', multiple: true, tid: tid + '-file', 'aria-label': t('attach_file') });
  input.addEventListener('change', () => {
    for (const file of input.files) {
      const a = { name: file.name, size: file.size, content_type: file.type, url: file.type.startsWith('image/') ? URL.createObjectURL(file) : '' };
      list.push(a);
      upload(file).then((r) => Object.assign(a, r), (e) => { a.error = e.message; haptic('error'); }).then(() => { render(); onChange(); });
    }
    input.value = '';
    render(); onChange();
  });
  render();
  return { box, button: h('label', { class: label ? 'btn ghost filebtn' : 'icon filebtn', title: t('attach_file') }, label ? '📎 ' + label : '📎', input), render };
}
function stepForm(cats, step, onBack) {
  setBack(onBack);
  const cat = findCat(cats, draft.category_id);
  const title = h('input.input', { name: 'title', maxlength: LIMITS.title, required: true, placeholder: t('title_ph'), tid: 'new-title', value: draft.title, 'aria-describedby': 'title-err' });
  const desc = h('textarea.input', { name: 'description', rows: 6, maxlength: LIMITS.description, required: true, placeholder: t('description_ph'), tid: 'new-description', value: draft.description, 'aria-describedby': 'desc-err' });
  const errOf = (id) => h('span', { id, class: 'err', role: 'alert' });
  const titleErr = errOf('title-err'), descErr = errOf('desc-err');
  // Marks an empty required field (or clears the mark); true when it is filled.
  const check = (input, errEl, mark) => {
    const ok = !!input.value.trim();
    if (ok || mark) { errEl.textContent = ok ? '' : t('required'); input.setAttribute('aria-invalid', String(!ok)); }
    return ok;
  };
  const update = () => {
    draft.title = title.value; draft.description = desc.value;
    check(title, titleErr); check(desc, descErr);
    setClosingConfirmation(draftFilled());
    saveDraft();
  };
  title.addEventListener('input', update);
  desc.addEventListener('input', update);
  const pri = h('fieldset', { tid: 'new-priority' }, h('legend', t('priority')), h('div.seg', PRIORITIES.map((p) =>
    h('label', h('input', { type: 'radio', name: 'priority', value: p, checked: draft.priority === p, tid: 'new-priority-' + p, onchange: () => { draft.priority = p; saveDraft(); } }), h('span', t('priority_' + p))))));
  const att = attachments(draft.attachments, update, 'new', t('attach'));
  const next = () => {
    const bad = [[title, titleErr], [desc, descErr]].filter(([i, e]) => !check(i, e, true));
    if (!bad.length) return step('preview');
    haptic('error');
    bad[0][0].focus();
  };
  const form = h('form', { novalidate: true, tid: 'new-form', onsubmit: (e) => { e.preventDefault(); next(); } },
    backLink(), h('h1', t('new_ticket')),
    cat || cats.length ? h('div.card.row', { tid: 'new-category' }, h('span.tt', cat ? catLabel(cat) : t('no_category')), h('button.link', { onclick: () => step('category') }, t('change'))) : null,
    pri,
    field('title', title, h('span.meta', titleErr, counter(title, LIMITS.title, 'new-title-counter'))),
    field('description', desc, h('span.meta', descErr, counter(desc, LIMITS.description, 'new-description-counter'))),
    h('div.field', att.button, h('p.hint', t('attach_hint')), att.box));
  view.replaceChildren(form);
  view.scrollTop = 0;
  setMain({ text: t('preview'), tid: 'new-preview', onClick: next });
}
function stepPreview(cats, step) {
  setBack(() => step('form'));
  const cat = findCat(cats, draft.category_id);
  const err = h('p.err', { role: 'alert', tid: 'new-error' });
  const row = (k, v) => [h('dt', k), h('dd', v)];
  view.replaceChildren(backLink() || '', h('h1', t('preview_title')),
    h('dl.card.pvw', { tid: 'new-summary' },
      cat ? row(t('category'), catLabel(cat)) : null, row(t('priority'), t('priority_' + draft.priority)),
      row(t('title'), draft.title.trim()), row(t('description'), draft.description.trim()),
      draft.attachments.some((a) => a.id) ? [h('dt', t('files')), h('dd.atts', draft.attachments.filter((a) => a.id).map((a) => h('span.att', a.url ? h('img', { src: a.url, alt: '' }) : '📄', h('span.nm', a.name))))] : null),
    h('button.link', { tid: 'new-edit', onclick: () => step('form') }, t('edit')), err);
  view.scrollTop = 0;
  const send = async () => {
    if (draft.attachments.some((a) => !a.id && !a.error)) { err.textContent = t('wait_uploads'); return; }
    err.textContent = '';
    setMain({ text: t('send'), tid: 'new-send', progress: true, onClick: send });
    try {
      const tk = await api('POST', '/tickets', { title: draft.title.trim(), description: draft.description.trim(), priority: draft.priority, category_id: draft.category_id == null ? null : draft.category_id, attachment_ids: draft.attachments.filter((a) => a.id).map((a) => a.id) });
      haptic('success');
      draft.attachments.forEach((a) => a.url && URL.revokeObjectURL(a.url));
      draft = null;
      await cloud.set(DRAFT, null);
      setClosingConfirmation(false);
      L.stale = true;
      toast(t('ticket_created', { number: '#' + tk.number }));
      go('#/tickets/' + tk.id, true);
    } catch (e) {
      haptic('error');
      err.textContent = e.message;
      setMain({ text: t('send'), tid: 'new-send', onClick: send });
    }
  };
  setMain({ text: t('send'), tid: 'new-send', onClick: send });
}

// ---------- ticket view ----------
const T = { id: null, ticket: null, msgs: null, seen: new Set(), typingTimer: 0, lastTyping: 0 };
async function showTicket(id) {
  const bubbles = h('div.msgs', { role: 'log', 'aria-live': 'polite', tid: 'messages' });
  const head = h('div.card.th', { tid: 'ticket-header' }, h('div.skel'));
  const hint = h('div.banner', { tid: 'reopen-hint', hidden: true });
  const typing = h('div.typing', { tid: 'typing-indicator', 'aria-live': 'polite', hidden: true }, t('typing'));
  const text = h('textarea.input', { rows: 1, placeholder: t('message'), 'aria-label': t('message'), tid: 'composer-input', enterkeyhint: 'send' });
  const sendBtn = h('button', { type: 'submit', class: 'icon send', 'aria-label': t('send'), tid: 'composer-send' }, '➤');
  const pending = [];
  const att = attachments(pending, () => {}, 'composer');
  const form = h('form.composer', { tid: 'composer' }, att.button, text, sendBtn);
  mount('ticket', [backLink(), head, bubbles, hint, typing], [att.box, form]);
  Object.assign(T, { id: String(id), ticket: null, msgs: bubbles, head, hint, typing, seen: new Set() });
  setBack(back);
  setState('loading');
  current.leave = () => { T.id = null; clearTimeout(T.typingTimer); setClosingConfirmation(false); };
  const grow = () => { text.style.height = 'auto'; text.style.height = Math.min(text.scrollHeight + 2, 140) + 'px'; };
  text.addEventListener('input', () => {
    grow();
    setClosingConfirmation(!!text.value.trim());
    const now = Date.now();
    if (text.value && now - T.lastTyping > 3000 && T.ticket) { T.lastTyping = now; live.send({ type: 'typing', ticket_id: T.ticket.id }); }
  });
  // Enter sends, Shift+Enter is a new line (not while an IME composes).
  text.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendBtn.click(); } });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body_ = text.value.trim(), ids = pending.filter((a) => a.id).map((a) => a.id);
    if ((!body_ && !ids.length) || sendBtn.disabled) return;
    if (pending.some((a) => !a.id && !a.error)) return toast(t('wait_uploads'));
    sendBtn.disabled = true;
    try {
      const m = await api('POST', `/tickets/${T.id}/messages`, { text: body_, attachment_ids: ids });
      text.value = ''; grow(); pending.length = 0; att.render();
      setClosingConfirmation(false);
      addMessage(m, true);
      if (T.ticket && (T.ticket.status === 'closed' || T.ticket.status === 'resolved')) refreshTicket();
    } catch (err) { haptic('error'); toast(err.message, true); } finally { sendBtn.disabled = false; }
  });
  await loadTicket();
}
async function loadTicket(silent) {
  const id = T.id;
  try {
    const [tk, ms, cats] = await Promise.all([api('GET', '/tickets/' + id), api('GET', `/tickets/${id}/messages`), categories()]);
    if (T.id !== id) return;
    T.cats = cats;
    renderTicket(tk);
    T.msgs.replaceChildren();
    T.seen.clear();
    const items = (ms.items || []).filter((m) => !m.internal);
    // The description opens the conversation unless the first message already is it.
    if (!items.length || items[0].text !== tk.description) T.msgs.append(bubble({ id: 'd', author_role: 'user', text: tk.description, created_at: tk.created_at, attachments: [] }, 'ticket-description'));
    for (const m of items) addMessage(m);
    view.scrollTop = view.scrollHeight;
    setState('ready');
  } catch (e) {
    if (T.id !== id) return;
    if (silent) return toast(e.message, true);
    // 404 is also another customer's ticket: say so; retrying will not help.
    const gone = e.status === 404;
    if (gone) e.message = t('err_not_found');
    T.head.replaceChildren(errorBox(e, gone ? () => go('#/', true) : () => showTicket(id), gone && t('to_list')));
    bar.replaceChildren(mainBtn);
    syncBar();
    setState('error');
  }
}
async function refreshTicket() {
  try { const tk = await api('GET', '/tickets/' + T.id); if (T.ticket && String(tk.id) === T.id) { renderTicket(tk); listUpsert(tk, true); } } catch { /* the socket brings it later */ }
}
function renderTicket(tk) {
  T.ticket = tk;
  const cat = findCat(T.cats, tk.category_id);
  const sel = h('select.input', { 'aria-label': t('priority'), tid: 'ticket-priority' }, PRIORITIES.map((p) => h('option', { value: p, selected: p === tk.priority }, t('priority_' + p))));
  sel.addEventListener('change', async () => {
    const p = sel.value;
    if (!(await confirmBox(t('confirm_priority', { p: t('priority_' + p) })))) { sel.value = T.ticket.priority; return; }
    patchTicket({ priority: p }, t('priority_changed'), () => { sel.value = T.ticket.priority; });
  });
  const closeBtn = tk.status === 'closed' ? null : h('button.btn.danger', { tid: 'ticket-close', onclick: async () => {
    if (await confirmBox(t('confirm_close'))) patchTicket({ status: 'closed' }, t('ticket_closed'));
  } }, t('close_ticket'));
  T.head.replaceChildren(
    h('div.row', h('span.num', { tid: 'ticket-number' }, '#' + tk.number), statusBadge(tk.status), h('span.tt'), h('time.time', { datetime: tk.created_at }, t('created', { date: fmtTime(tk.created_at) }))),
    h('h1', { tid: 'ticket-title' }, tk.title),
    cat ? h('div.hint', catLabel(cat)) : '',
    h('div.acts', h('label.psel', h('span.hint', t('priority')), sel), closeBtn));
  const done = tk.status === 'closed' || tk.status === 'resolved';
  T.hint.hidden = !done;
  T.hint.textContent = done ? t(tk.status === 'closed' ? 'hint_closed' : 'hint_resolved') : '';
}
async function patchTicket(change, okText, onFail) {
  try {
    const tk = await api('PATCH', '/tickets/' + T.id, change);
    haptic('success');
    renderTicket(tk);
    listUpsert(tk, true);
    toast(okText);
  } catch (e) { haptic('error'); toast(e.message, true); if (onFail) onFail(); }
}
function bubble(m, tid) {
  const role = m.author_role;
  const kind = role === 'system' ? 'sys' : role === 'user' ? 'own' : 'staff';
  // A place, contact or unsupported kind is shown as a card; its text is
  // the line that names it (an unsupported kind's caption follows it).
  const card = m.location || m.contact || m.unsupported;
  const text = m.unsupported ? (m.text || '').split('\n').slice(1).join('\n') : card ? '' : m.text;
  const el = h('div', { class: 'msg ' + kind, tid: tid || 'message', 'data-message-id': m.id, 'data-author-role': role, 'data-kind': m.kind || 'text' },
    kind === 'staff' ? h('div.au', m.author_name || t('support')) : null,
    text ? h('div.tx', text) : null);
  if (m.location) {
    const p = m.location;
    el.append(h('button.doc.place', { tid: 'map-link', onclick: () => openLink(p.map_url) }, '📍 ',
      h('span', p.title ? [h('b', p.title), ' ', p.address] : `${p.latitude.toFixed(5)}, ${p.longitude.toFixed(5)}`), h('span.hint', t('open_map'))));
  }
  if (m.contact) {
    const c = m.contact;
    el.append(h('a.doc.contact', { tid: 'contact-card', href: 'tel:' + c.phone_number }, '👤 ', h('b', [c.first_name, c.last_name].filter(Boolean).join(' ')), ' ', h('span', c.phone_number)));
  }
  if (m.unsupported) el.append(h('div.doc', { tid: 'unsupported' }, '❓ ', h('span', t('unsupported_kind', { kind: m.unsupported }))));
  for (const a of m.attachments || []) {
    const type = a.content_type || '';
    const plays = ['voice', 'audio', 'video', 'video_note', 'animation'].includes(a.kind) || (a.kind === 'sticker' && type.startsWith('video/'));
    if (plays) {
      const video = a.kind !== 'voice' && a.kind !== 'audio';
      const loop = a.kind === 'animation' || a.kind === 'video_note' || a.kind === 'sticker';
      const media = h(video ? 'video' : 'audio', { tid: video ? 'video-player' : 'audio-player', preload: 'metadata', 'aria-label': a.name, class: a.kind === 'video_note' ? 'round' : '' });
      if (loop) { media.muted = true; media.loop = true; media.autoplay = true; media.playsInline = true; } else media.controls = true;
      attachmentUrl(a.id).then((u) => { media.src = u; }, () => { media.replaceWith(h('span.hint', '⚠️ ' + a.name)); });
      el.append(media);
    } else if (a.kind === 'photo' || type.startsWith('image/')) {
      const img = h('img', { alt: a.kind === 'sticker' ? (m.emoji || t('sticker')) : a.name, tid: a.kind === 'sticker' ? 'sticker' : 'attachment-image', class: a.kind === 'sticker' ? 'sticker' : '', loading: 'lazy', onclick: () => img.src && a.kind !== 'sticker' && showImage(img.src, a.name) });
      attachmentUrl(a.id).then((u) => { img.src = u; }, () => { img.alt = '⚠️ ' + a.name; });
      el.append(img);
    } else {
      el.append(h('button.doc', { tid: 'attachment-doc', 'aria-label': t('download', { name: a.name }), onclick: () => download(a) }, '📄 ', h('span', a.name), h('span.hint', fmtSize(a.size || 0))));
    }
  }
  el.append(h('div.tm', m.edited_at ? t('edited') + ' · ' : '', h('time', { datetime: m.created_at }, fmtTime(m.created_at))));
  return el;
}
function addMessage(m, own) {
  if (!T.msgs || m.internal || T.seen.has(String(m.id))) return;
  T.seen.add(String(m.id));
  const near = view.scrollHeight - view.scrollTop - view.clientHeight < 160;
  T.msgs.append(bubble(m));
  if (m.author_role !== 'user') { T.typing.hidden = true; clearTimeout(T.typingTimer); }
  if (near || own) view.scrollTop = view.scrollHeight;
}
// Links leave the Mini App through Telegram (its in-app browser), or a
// new tab outside it.
function openLink(url) {
  if (!tg.post('web_app_open_link', { url })) window.open(url, '_blank', 'noopener');
}
async function download(a) {
  try {
    const url = await attachmentUrl(a.id);
    const link = h('a', { href: url, download: a.name || 'file' });
    body.append(link); link.click(); link.remove();
  } catch (e) { toast(e.message, true); }
}
function showImage(src, alt) {
  const close = () => box.remove();
  const box = h('button.view-img', { 'aria-label': t('back'), onclick: close, onkeydown: (e) => e.key === 'Escape' && close() }, h('img', { src, alt }));
  body.append(box);
  box.focus();
}

// ---------- live updates ----------
// {base}/ws: first message {"type":"auth","token"}, then server pushes.
const live = {
  ws: null, tries: 0, timer: 0, ping: 0, wasReady: false, stopped: true,
  start() { live.stop(); live.stopped = false; live.tries = 0; live.wasReady = false; live.connect(); },
  stop() { live.stopped = true; clearTimeout(live.timer); clearInterval(live.ping); if (live.ws) { live.ws.onclose = null; live.ws.close(); } live.ws = null; },
  connect() {
    if (live.stopped || !auth) return;
    const ws = (live.ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${BASE}/ws`));
    let ready = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: auth.access }));
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (m.type === 'ready') {
        ready = true; live.tries = 0;
        clearInterval(live.ping);
        live.ping = setInterval(() => live.send({ type: 'ping' }), 25000);
        if (live.wasReady) resync();
        live.wasReady = true;
      } else onLive(m);
    };
    ws.onclose = async (e) => {
      clearInterval(live.ping);
      if (live.stopped) return;
      // 4401 (or 1008 before "ready"): the token was refused; refresh it first.
      if (e.code === 4401 || (!ready && e.code === 1008)) { if (!(await reauth())) return; }
      const delay = Math.min(30000, 1000 * 2 ** live.tries++) * (0.75 + Math.random() / 2);
      live.timer = setTimeout(live.connect, delay);
    };
  },
  send(msg) { if (live.ws && live.ws.readyState === 1) live.ws.send(JSON.stringify(msg)); },
};
function resync() {
  if (current.name === 'ticket' && T.id) loadTicket(true);
  else if (current.name === 'list') loadPage(true, true);
  else L.stale = true;
}
function onLive(m) {
  if (m.type === 'message.created' && m.message) {
    if (T.id && String(m.ticket_id) === T.id) addMessage(m.message);
    const tk = L.items.get(String(m.ticket_id));
    const { text, author_role, created_at } = m.message;
    if (tk) listUpsert({ ...tk, last_message: { text, author_role, created_at }, updated_at: created_at });
    else L.stale = true;
  } else if (m.type === 'message.updated' && T.id && String(m.ticket_id) === T.id) {
    loadTicket(true);
  } else if ((m.type === 'ticket.updated' || m.type === 'ticket.created') && m.ticket) {
    if (T.id && String(m.ticket.id) === T.id) renderTicket(m.ticket);
    listUpsert(m.ticket, true);
  } else if (m.type === 'typing' && T.id && String(m.ticket_id) === T.id && m.role !== 'user') {
    T.typing.hidden = false;
    clearTimeout(T.typingTimer);
    T.typingTimer = setTimeout(() => { T.typing.hidden = true; }, 5000);
  }
}
addEventListener('visibilitychange', () => { if (doc.visibilityState === 'visible' && auth && !live.stopped && (!live.ws || live.ws.readyState > 1)) { clearTimeout(live.timer); live.tries = 0; live.connect(); } });

// ---------- start ----------
async function start() {
  if (auth && auth.user && auth.user.blocked) return showSignIn(t('err_blocked'));
  if (lp.user) await setLang(lp.user.language_code); else await setLang(auth.lang, cfg.lang);
  live.start();
  // start_param "ticket-<id>" opens that ticket once; the API decides access.
  const deep = /^ticket-([\w-]+)$/.exec(lp.startParam);
  let once = false;
  try { once = sessionStorage.getItem('tikethet_sp') === lp.startParam; sessionStorage.setItem('tikethet_sp', lp.startParam); } catch { /* ignore */ }
  const target = /^#\/(tickets\/[\w-]+|new)$/.test(location.hash) ? location.hash : deep && !once ? '#/tickets/' + deep[1] : '';
  history.replaceState({ d: 0 }, '', '#/');
  if (target) go(target); else route();
}
async function boot() {
  setupTelegram();
  if (lp.user) await setLang(lp.user.language_code);
  if (lp.initData) {
    // Reuse this tab's tokens only for the same Telegram user.
    if (!(auth && auth.user && lp.user && String(auth.user.telegram_id) === String(lp.user.id))) {
      try { saveAuth(await api('POST', '/auth/telegram', { init_data: lp.initData }, { anon: true })); } catch (e) {
        return showSignIn(e.status === 403 ? t('err_blocked') : e.status === 401 || e.status === 400 ? t('err_signin') : e.message);
      }
    }
    return start();
  }
  if (auth && auth.access) return start();
  showSignIn();
}
boot();
