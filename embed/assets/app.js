// SteelEngine dashboard: progressive enhancement only. Every page works without this
// file; with it, copy buttons copy, tabs switch, files can be dropped, grant rows can
// be added, and the logs list can refresh itself.
(function () {
  'use strict';

  // After a post, move focus to what it produced (a new key, a run's result), so
  // keyboard and screen-reader users land on it.
  var landing = document.getElementById('newkey') || document.getElementById('result');
  if (landing) { landing.focus(); }

  // Copy buttons: data-copy names the id of the element whose text or value to copy.
  document.addEventListener('click', function (e) {
    var btn = e.target.closest('[data-copy]');
    if (!btn) return;
    var el = document.getElementById(btn.getAttribute('data-copy'));
    if (!el) return;
    var text = el.value !== undefined && el.tagName !== 'PRE' ? el.value : el.textContent;
    var done = function () {
      var old = btn.textContent;
      btn.textContent = 'Copied';
      btn.setAttribute('aria-live', 'polite');
      setTimeout(function () { btn.textContent = old; }, 1600);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(el); done(); });
    } else { fallback(el); done(); }
  });
  function fallback(el) {
    if (el.select) { el.select(); } else {
      var r = document.createRange(); r.selectNodeContents(el);
      var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
    }
    try { document.execCommand('copy'); } catch (_) { /* the text stays selected */ }
  }

  // Tabs: a [role=tablist] of buttons whose aria-controls name the panels.
  document.querySelectorAll('[role=tablist]').forEach(function (list) {
    var tabs = Array.prototype.slice.call(list.querySelectorAll('[role=tab]'));
    function select(tab) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute('aria-selected', on ? 'true' : 'false');
        t.tabIndex = on ? 0 : -1;
        document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
      });
    }
    tabs.forEach(function (t, i) {
      t.addEventListener('click', function () { select(t); });
      t.addEventListener('keydown', function (e) {
        var j = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : -1;
        if (j < 0 && e.key !== 'ArrowLeft') return;
        var next = tabs[(j + tabs.length) % tabs.length];
        next.focus(); select(next); e.preventDefault();
      });
    });
    if (tabs.length) select(tabs[0]);
  });

  // Drop zone: dropping a file puts it in the file input.
  document.querySelectorAll('.drop').forEach(function (zone) {
    var input = zone.querySelector('input[type=file]');
    var name = zone.querySelector('[data-filename]');
    ['dragenter', 'dragover'].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add('over'); });
    });
    ['dragleave', 'drop'].forEach(function (ev) {
      zone.addEventListener(ev, function () { zone.classList.remove('over'); });
    });
    zone.addEventListener('drop', function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        input.dispatchEvent(new Event('change'));
      }
    });
    input.addEventListener('change', function () {
      if (name) name.textContent = input.files.length ? 'Selected: ' + input.files[0].name : '';
    });
  });

  // Grant editor: "Add a grant" clones the last row, emptied.
  document.querySelectorAll('[data-add-grant]').forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener('click', function () {
      var body = document.getElementById(btn.getAttribute('data-add-grant'));
      var rows = body.querySelectorAll('tr');
      var row = rows[rows.length - 1].cloneNode(true);
      var n = rows.length + 1;
      row.querySelectorAll('select').forEach(function (s) {
        s.selectedIndex = 0;
        s.id = s.id.replace(/\d+$/, n);
      });
      row.querySelectorAll('label').forEach(function (l) {
        l.htmlFor = l.htmlFor.replace(/\d+$/, n);
        l.textContent = l.textContent.replace(/\d+$/, n);
      });
      body.appendChild(row);
      row.querySelector('select').focus();
    });
  });

  // Key type: show the workspace-key fields only for workspace keys.
  document.querySelectorAll('[data-keytype]').forEach(function (form) {
    var ws = form.querySelector('[data-workspace-only]');
    function sync() {
      var t = form.querySelector('input[name=type]:checked');
      if (ws) ws.hidden = !t || t.value !== 'workspace';
    }
    form.querySelectorAll('input[name=type]').forEach(function (r) { r.addEventListener('change', sync); });
    sync();
  });

  // Live refresh of the logs list: reload the list every 5 s while checked.
  var live = document.getElementById('live');
  if (live) {
    var timer = null;
    var key = 'steelengine.live';
    live.checked = sessionStorage.getItem(key) === '1';
    var arm = function () {
      clearInterval(timer);
      sessionStorage.setItem(key, live.checked ? '1' : '0');
      if (live.checked) timer = setInterval(refresh, 5000);
    };
    var refresh = function () {
      fetch(location.href, { credentials: 'same-origin' }).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        ['log-list', 'log-chart'].forEach(function (id) {
          var fresh = doc.getElementById(id), cur = document.getElementById(id);
          if (fresh && cur) cur.replaceWith(fresh);
        });
      }).catch(function () { /* try again on the next tick */ });
    };
    live.addEventListener('change', arm);
    arm();
  }
})();
