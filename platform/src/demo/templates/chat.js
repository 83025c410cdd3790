// The chat simulator: shows what the bot sent this desk's customer (read
// from the Telegram stand-in) and sends what the customer types, or the
// buttons they press, as Telegram updates through the desk's webhook.
(() => {
  const desk = document.body.dataset.desk;
  const log = document.getElementById('log');
  const empty = document.getElementById('empty');
  const error = document.getElementById('error');
  const form = document.getElementById('composer');
  const input = document.getElementById('text');
  const send = document.getElementById('send');
  const menu = document.getElementById('menu');
  let shown = '';

  document.getElementById('desk').addEventListener('change', (e) => {
    location.href = '/demo/chat?desk=' + encodeURIComponent(e.target.value);
  });

  function bubble(e) {
    const div = document.createElement('div');
    div.className = 'msg ' + e.from;
    div.textContent = e.text;
    if (e.edited) {
      const s = document.createElement('span');
      s.className = 'edited';
      s.textContent = 'edited';
      div.appendChild(s);
    }
    if (e.buttons && e.buttons.length) {
      const keys = document.createElement('div');
      keys.className = 'keys';
      for (const row of e.buttons) {
        const r = document.createElement('div');
        r.className = 'row';
        for (const b of row) {
          const btn = document.createElement('button');
          btn.type = 'button';
          btn.textContent = b.text;
          btn.dataset.kind = b.kind;
          btn.addEventListener('click', () => pressed(b, e));
          r.appendChild(btn);
        }
        keys.appendChild(r);
      }
      div.appendChild(keys);
    }
    return div;
  }

  function render(feed) {
    const key = JSON.stringify(feed);
    if (key === shown) return;
    shown = key;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.replaceChildren();
    if (!feed.entries.length) log.appendChild(empty);
    for (const e of feed.entries) log.appendChild(bubble(e));
    if (atBottom) log.scrollTop = log.scrollHeight;
    if (feed.menu) {
      menu.hidden = false;
      menu.textContent = feed.menu.text;
      menu.onclick = () => window.open(feed.menu.value, '_blank', 'noopener');
    }
  }

  async function refresh() {
    try {
      const r = await fetch('/demo/chat/' + desk + '/feed', { cache: 'no-store' });
      if (!r.ok) throw new Error('the feed answered ' + r.status);
      render(await r.json());
    } catch (e) {
      error.textContent = 'Could not read the chat: ' + e.message + '. Is the demo still running?';
      return;
    }
    if (error.dataset.sticky !== '1') error.textContent = '';
  }

  async function post(path, body) {
    error.dataset.sticky = '';
    const r = await fetch('/demo/chat/' + desk + path, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!r.ok) {
      const j = await r.json().catch(() => ({}));
      error.textContent = j.error || ('The desk answered ' + r.status);
      error.dataset.sticky = '1';
    }
    await refresh();
  }

  function pressed(b, e) {
    if (b.kind === 'callback') post('/press', { data: b.value, message_id: e.message_id || 0, label: b.text });
    else window.open(b.value, '_blank', 'noopener');
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    try {
      await post('/send', { text });
      input.value = '';
    } finally {
      send.disabled = false;
      input.focus();
    }
  });

  refresh();
  // Telegram pushes; the stand-in is read twice a second.
  setInterval(refresh, 500);
})();
