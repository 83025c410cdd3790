// The console's little script: keyboard shortcuts, and on a ticket the
// collision warning (who else is viewing or replying) and the notice of
// newer messages; a question before a destructive button. The pages work without it.
(function () {
  "use strict";
  var body = document.body;
  var base = body.dataset.base;
  var csrf = body.dataset.csrf;

  function typingInField(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  // The queue: j/k move the selection, Enter opens it.
  var rows = Array.prototype.slice.call(document.querySelectorAll(".queue li"));
  var at = -1;
  function select(i) {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, n) { r.classList.toggle("selected", n === at); });
    rows[at].querySelector("a").focus();
  }

  // Live: the desk's events over its socket, signed in by the console's
  // session cookie. What changed is fetched as the page renders it and
  // swapped in, so the page stays the server's.
  // `onReady` runs each time the socket is (again) signed in; `send`
  // writes to it while it is.
  var socket = null;
  function send(msg) {
    if (!socket || socket.readyState !== 1 || body.dataset.live !== "on") return false;
    socket.send(JSON.stringify(msg));
    return true;
  }
  function live(onEvent, onReady) {
    if (!window.WebSocket || !base) return;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + base.replace(/\/admin$/, "") + "/ws";
    var delay = 1000;
    (function open() {
      var ws = new WebSocket(url);
      socket = ws;
      ws.onopen = function () { ws.send(JSON.stringify({ type: "auth", console: true })); };
      ws.onmessage = function (m) {
        var e;
        try { e = JSON.parse(m.data); } catch (x) { return; }
        if (e.type === "ready") { body.dataset.live = "on"; delay = 1000; if (onReady) onReady(); return; }
        onEvent(e);
      };
      ws.onclose = function (c) {
        body.dataset.live = "off";
        if (socket === ws) socket = null;
        // Signed out, blocked, no such desk: no use trying again.
        if (c.code === 4401 || c.code === 4403 || c.code === 4404) return;
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      };
    })();
  }
  // The current page again, as HTML, for the parts that changed.
  function fresh(then) {
    fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (html) then(new DOMParser().parseFromString(html, "text/html"));
    }).catch(function () {});
  }
  function debounced(f, ms) {
    var t = null;
    return function () { clearTimeout(t); t = setTimeout(f, ms); };
  }

  // The queue: new tickets and changes appear without a reload; rows that
  // changed since the page was shown carry a marker until opened.
  var list = document.getElementById("live-list");
  if (list) {
    var shownAt = Date.now();
    var refresh = debounced(function () {
      fresh(function (doc) {
        var next = doc.getElementById("live-list");
        var tabs = doc.querySelector(".tabs");
        if (!next) return;
        var picked = Array.prototype.map.call(document.querySelectorAll(".pick:checked"), function (p) { return p.value; });
        var seenBefore = {};
        Array.prototype.forEach.call(document.querySelectorAll("#live-list .queue li"), function (li) { seenBefore[li.dataset.ticket] = li.dataset.stamp; });
        list.replaceWith(next);
        list = next;
        if (tabs && document.querySelector(".tabs")) document.querySelector(".tabs").replaceWith(tabs);
        Array.prototype.forEach.call(next.querySelectorAll(".queue li"), function (li) {
          if (Number(li.dataset.stamp) > shownAt && seenBefore[li.dataset.ticket] !== li.dataset.stamp) li.classList.add("unread");
          var pick = li.querySelector(".pick");
          if (pick && picked.indexOf(pick.value) >= 0) pick.checked = true;
        });
        rows = Array.prototype.slice.call(document.querySelectorAll(".queue li"));
        at = -1;
      });
    }, 250);
    live(function (e) {
      if (e.type === "ticket.created" || e.type === "ticket.updated" || e.type === "message.created") refresh();
    });
  }

  // The theme editor: the preview follows the form as it changes.
  var themeForm = document.getElementById("theme-form");
  var preview = document.getElementById("preview");
  if (themeForm && preview) {
    themeForm.addEventListener("input", function () {
      var f = themeForm.elements;
      preview.style.setProperty("--p", f.primary_color.value);
      preview.style.setProperty("--a", f.accent_color.value);
      preview.style.setProperty("--r", f.radius.value + "px");
      preview.style.fontFamily = f.font.value || "inherit";
      var out = document.getElementById("radius-out");
      if (out) out.textContent = f.radius.value;
    });
  }

  // Buttons that destroy something ask first (without the script, they act).
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-confirm]");
    if (b && !window.confirm(b.dataset.confirm)) e.preventDefault();
  });

  var sheet = document.getElementById("shortcuts");
  var pendingG = false;
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (typingInField(e)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    var k = e.key;
    if (pendingG) {
      pendingG = false;
      if (k === "q" && base) { location.href = base + "/"; e.preventDefault(); }
      return;
    }
    if (k === "?") { if (sheet && sheet.showModal) sheet.showModal(); e.preventDefault(); return; }
    if (k === "g") { pendingG = true; return; }
    if (k === "/") { var s = document.querySelector("[data-testid=search]"); if (s) { s.focus(); e.preventDefault(); } return; }
    if (rows.length && (k === "j" || k === "k")) { select(at + (k === "j" ? 1 : -1)); e.preventDefault(); return; }
    // On a ticket with the queue beside it: the next or previous ticket.
    var pane = document.querySelector("[data-testid=pane-queue]");
    if (!rows.length && pane && pane.offsetParent && (k === "j" || k === "k")) {
      var items = Array.prototype.slice.call(pane.querySelectorAll("li"));
      var here = items.findIndex(function (li) { return li.classList.contains("here"); });
      var to = items[here + (k === "j" ? 1 : -1)];
      if (to) { location.href = to.querySelector("a").href; e.preventDefault(); }
      return;
    }
    if (k === "x" && at >= 0) { var pick = rows[at].querySelector(".pick"); if (pick) { pick.checked = !pick.checked; e.preventDefault(); } return; }
    if (k === "r") { var r = document.getElementById("reply"); if (r) { r.focus(); e.preventDefault(); } return; }
    if (k === "n") { var n = document.getElementById("note"); if (n) { n.focus(); e.preventDefault(); } return; }
    if (k === "e") { var f = document.getElementById("resolve-form"); if (f) { f.submit(); e.preventDefault(); } return; }
    if (k === "m") { var m = document.getElementById("macro"); if (m) { m.focus(); e.preventDefault(); } }
  });
  // Files for a reply or note: the button, dropped on the form, or pasted
  // into its box, all end up in the form's file input (the server checks
  // them as it checks the Mini App's uploads).
  Array.prototype.forEach.call(document.querySelectorAll("form.droppable"), function (form) {
    var input = form.querySelector("input[type=file]");
    var chosen = form.querySelector(".chosen");
    if (!input) return;
    function show() { chosen.textContent = Array.prototype.map.call(input.files, function (f) { return f.name; }).join(", "); }
    function add(files) {
      if (!files || !files.length || !window.DataTransfer) return;
      var dt = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (f) { dt.items.add(f); });
      Array.prototype.forEach.call(files, function (f) { dt.items.add(f); });
      input.files = dt.files;
      show();
    }
    input.addEventListener("change", show);
    form.addEventListener("dragover", function (e) { e.preventDefault(); form.classList.add("dropping"); });
    form.addEventListener("dragleave", function () { form.classList.remove("dropping"); });
    form.addEventListener("drop", function (e) { e.preventDefault(); form.classList.remove("dropping"); add(e.dataTransfer.files); });
    form.addEventListener("paste", function (e) { if (e.clipboardData && e.clipboardData.files.length) { e.preventDefault(); add(e.clipboardData.files); } });
  });

  // A chosen macro: Enter applies it (a select does not submit its form).
  var macro = document.getElementById("macro");
  if (macro) macro.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); macro.form.submit(); } });
  var help = document.querySelector("[data-action=help]");
  if (help && sheet) help.addEventListener("click", function () { sheet.showModal(); });

  // Canned responses: `/shortcut` then Tab (or Enter on a match) inserts.
  var reply = document.getElementById("reply");
  var canned = document.getElementById("canned");
  if (reply && canned) {
    var items = Array.prototype.slice.call(canned.querySelectorAll("li"));
    var word = function () {
      var before = reply.value.slice(0, reply.selectionStart);
      var m = /(^|\s)\/([a-z0-9_-]*)$/.exec(before);
      return m ? m[2] : null;
    };
    var matching = function (w) { return items.filter(function (li) { return li.dataset.shortcut.indexOf(w) === 0; }); };
    reply.addEventListener("input", function () {
      var w = word();
      var shown = w === null ? [] : matching(w);
      items.forEach(function (li) { li.hidden = shown.indexOf(li) < 0; });
      canned.hidden = shown.length === 0;
    });
    reply.addEventListener("keydown", function (e) {
      if (e.key !== "Tab" && e.key !== "Enter") return;
      var w = word();
      if (w === null) return;
      var found = matching(w);
      if (!found.length) return;
      e.preventDefault();
      var at = reply.selectionStart;
      var start = at - w.length - 1;
      reply.value = reply.value.slice(0, start) + found[0].dataset.text + reply.value.slice(at);
      reply.selectionStart = reply.selectionEnd = start + found[0].dataset.text.length;
      canned.hidden = true;
    });
  }

  // A ticket: tell the desk who is here (and typing), hear who else is.
  var ticket = document.querySelector(".ticket[data-ticket]");
  if (!ticket || !base) return;
  var id = ticket.dataset.ticket;
  var seen = Number(ticket.dataset.seen || 0);
  var typedAt = 0;
  var collision = document.getElementById("collision");
  var newer = document.getElementById("newer");
  // Who else is here, by user: told by the live events (and renewed by
  // them every few seconds), forgotten when they leave or go quiet.
  var others = {};
  function showOthers() {
    var now = Date.now();
    var list = [];
    Object.keys(others).forEach(function (k) { if (now - others[k].at < 20000) list.push(others[k]); else delete others[k]; });
    if (list.length) {
      list.sort(function (a, b) { return a.name < b.name ? -1 : 1; });
      collision.textContent = list.map(function (o) {
        return o.name + (o.typing ? " is replying to this ticket" : " is viewing this ticket");
      }).join("; ") + ".";
      collision.hidden = false;
    } else {
      collision.hidden = true;
    }
  }
  function heard(list) {
    others = {};
    list.forEach(function (o) { others[o.user_id] = { name: o.name, typing: o.typing, at: Date.now() }; });
    showOthers();
  }
  // Typing: said when it starts and when it stops (6 s after the last key).
  var typing = false;
  var stopTyping = null;
  function report() { return send({ type: "presence", ticket_id: Number(id), typing: typing }); }
  if (reply) reply.addEventListener("input", function () {
    typedAt = Date.now();
    if (!typing) { typing = true; report(); }
    clearTimeout(stopTyping);
    stopTyping = setTimeout(function () { typing = false; report(); }, 6000);
  });

  // While the socket is down, the page reports itself and asks who else
  // is here (and whether newer messages came) every few seconds.
  function beat() {
    var typing = Date.now() - typedAt < 6000;
    fetch(base + "/tickets/" + id + "/presence", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-csrf-token": csrf },
      body: "typing=" + (typing ? "1" : "0"),
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (p) {
      if (!p) return;
      heard(p.others || []);
      if (p.latest > seen) newer.hidden = false;
    }).catch(function () {});
  }
  setInterval(function () { if (body.dataset.live !== "on") beat(); else showOthers(); }, 3000);
  // New messages and changes of this ticket appear as they happen; the
  // reply's "seen" mark follows, since the agent has them on screen.
  var messages = document.querySelector("[data-testid=messages]");
  var showNew = debounced(function () {
    fresh(function (doc) {
      var next = doc.querySelector("[data-testid=messages]");
      var badge = doc.querySelector("[data-testid=status]");
      var was = {};
      Array.prototype.forEach.call(messages.querySelectorAll("li[data-id]"), function (li) { was[li.dataset.id] = true; });
      if (next) {
        Array.prototype.forEach.call(next.querySelectorAll("li[data-id]"), function (li) { if (!was[li.dataset.id]) li.classList.add("unread"); });
        messages.replaceWith(next);
        messages = next;
      }
      if (badge && document.querySelector("[data-testid=status]")) document.querySelector("[data-testid=status]").replaceWith(badge);
      swapPane(doc);
      var latest = doc.querySelector(".ticket");
      if (latest) {
        seen = Number(latest.dataset.seen || seen);
        var field = document.querySelector("#reply-form input[name=seen]");
        if (field) field.value = String(seen);
        newer.hidden = true;
      }
    });
  }, 150);
  // The left pane (wide screens): other tickets' news, marked unread.
  var paneShownAt = Date.now();
  function swapPane(doc) {
    var next = doc.querySelector("[data-testid=pane-queue]");
    var old = document.querySelector("[data-testid=pane-queue]");
    if (!next || !old) return;
    Array.prototype.forEach.call(next.querySelectorAll("li"), function (li) { if (Number(li.dataset.stamp) > paneShownAt && !li.classList.contains("here")) li.classList.add("unread"); });
    old.replaceWith(next);
  }
  var otherNews = debounced(function () { fresh(swapPane); }, 400);
  live(function (e) {
    var mine = String(e.ticket_id || (e.ticket && e.ticket.id)) === String(id);
    if (e.type === "presence.others" && mine) { heard(e.others || []); return; }
    if (e.type === "presence") {
      if (!mine) return;
      if (e.leaving) delete others[e.user_id];
      else others[e.user_id] = { name: e.name, typing: e.typing, at: Date.now() };
      showOthers();
      return;
    }
    if (!mine) {
      if (e.type === "ticket.created" || e.type === "ticket.updated" || e.type === "message.created") otherNews();
      return;
    }
    if (e.type === "message.created" || e.type === "message.updated" || e.type === "ticket.updated") showNew();
    if (e.type === "typing" && collision) {
      collision.textContent = (e.role === "user" ? "The customer" : "Someone") + " is typing…";
      collision.hidden = false;
    }
  }, report);
  window.addEventListener("pagehide", function () {
    // The socket's close ends its presence; without one, the page says so
    // (the token goes in the body: a beacon can send no headers).
    if (send({ type: "presence", ticket_id: Number(id), leaving: true })) return;
    navigator.sendBeacon && navigator.sendBeacon(base + "/tickets/" + id + "/presence?leave=1", new URLSearchParams({ csrf: csrf }));
  });
})();
