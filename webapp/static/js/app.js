// The installable app on every page: registers the service worker (/sw.js), shows "Đang ngoại tuyến"
// while there is no connection, tells the service worker which account the page shows (for its
// per-user cache), keeps a send form typed offline as a draft, sends the drafts when the connection
// returns, downscales photos before upload and fills the coordinates from "Dùng vị trí hiện tại".
// Every text shown comes from the page (data-* attributes rendered with gettext).
/* global PaknDrafts */
(function () {
  "use strict";
  var script = document.getElementById("app-js");
  if (!script) return;
  var texts = script.dataset;
  var banner = document.getElementById("offline-banner");
  var notice = document.getElementById("app-notice");

  function showNotice(nodes) {
    if (!notice) return;
    notice.textContent = "";
    nodes.forEach(function (n) { notice.appendChild(typeof n === "string" ? document.createTextNode(n) : n); });
    notice.hidden = false;
  }

  // -- offline banner -------------------------------------------------------------------------
  function connection() {
    if (banner) banner.hidden = navigator.onLine;
    document.documentElement.classList.toggle("is-offline", !navigator.onLine);
  }
  window.addEventListener("online", function () { connection(); sendDrafts(); });
  window.addEventListener("offline", connection);
  connection();

  // -- service worker ---------------------------------------------------------------------------
  var registration = null;
  function tellUser(worker) {
    // Only while online: a page kept for an anonymous visitor, opened offline, must not drop the
    // account's cache.
    if (worker && navigator.onLine) worker.postMessage({type: "user", marker: texts.user || ""});
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(texts.sw, {scope: "/"}).then(function (reg) {
      registration = reg;
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      tellUser(reg.active);
      document.documentElement.dataset.sw = "ready";
    }).catch(function () {});
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "drafts-changed") announce(event.data.sent || []);
    });
  }

  // -- drafts ---------------------------------------------------------------------------------------
  function codeLink(item) {
    var a = document.createElement("a");
    a.href = "/da-gui/" + encodeURIComponent(item.code);
    a.textContent = item.code;
    a.className = "code";
    return a;
  }
  function announce(sent) {
    if (sent.length) {
      var nodes = [texts.sentNotice + " "];
      sent.forEach(function (item, i) { if (i) nodes.push(", "); nodes.push(codeLink(item)); });
      showNotice(nodes);
      var savedNotice = document.getElementById("draft-saved");
      if (savedNotice) savedNotice.hidden = true;
    }
    renderDrafts();
  }
  var sending = null;
  function sendDrafts() {
    if (!window.PaknDrafts || !navigator.onLine || !texts.user) return Promise.resolve([]);
    if (!sending) {
      sending = PaknDrafts.sendAll("").then(function (sent) {
        sending = null;
        announce(sent);
        return sent;
      }, function () { sending = null; return []; });
    }
    return sending;
  }

  // The "Bản nháp" page: drafts waiting and drafts sent (with their tracking codes).
  function renderDrafts() {
    var box = document.getElementById("drafts");
    if (!box || !window.PaknDrafts) return;
    var d = box.dataset;
    Promise.all([PaknDrafts.list(), PaknDrafts.sent()]).then(function (r) {
      var waiting = r[0], sent = r[1];
      var list = document.getElementById("drafts-waiting");
      var done = document.getElementById("drafts-sent");
      list.textContent = "";
      done.textContent = "";
      waiting.sort(function (a, b) { return a.savedAt < b.savedAt ? -1 : 1; }).forEach(function (draft) {
        var li = document.createElement("li");
        li.className = "card draft";
        var h = document.createElement("h3");
        h.textContent = PaknDrafts.title(draft) || d.untitled;
        li.appendChild(h);
        var meta = document.createElement("p");
        meta.className = "muted";
        meta.textContent = d.savedLabel + " " + new Date(draft.savedAt).toLocaleString("vi-VN") +
          " · " + d.photosLabel + " " + draft.files.length;
        li.appendChild(meta);
        var state = document.createElement("p");
        state.className = draft.error ? "field-error" : "hint";
        state.textContent = draft.error ? d.refusedLabel + " " + draft.error.message : d.waitingLabel;
        li.appendChild(state);
        var edit = document.createElement("a");
        edit.className = "button button-secondary";
        edit.href = (draft.type === "idea" ? d.ideaUrl : d.reportUrl) + "?ban-nhap=" + encodeURIComponent(draft.id);
        edit.textContent = d.editLabel;
        edit.setAttribute("aria-label", d.editLabel + ": " + (PaknDrafts.title(draft) || d.untitled));
        li.appendChild(edit);
        li.appendChild(document.createTextNode(" "));
        var del = document.createElement("button");
        del.type = "button";
        del.className = "button button-secondary";
        del.textContent = d.deleteLabel;
        del.setAttribute("aria-label", d.deleteLabel + ": " + (PaknDrafts.title(draft) || d.untitled));
        del.addEventListener("click", function () {
          if (window.confirm(d.confirmDelete)) PaknDrafts.remove(draft.id).then(renderDrafts);
        });
        li.appendChild(del);
        list.appendChild(li);
      });
      document.getElementById("drafts-empty").hidden = waiting.length > 0;
      sent.sort(function (a, b) { return a.sentAt < b.sentAt ? 1 : -1; }).forEach(function (item) {
        var li = document.createElement("li");
        li.appendChild(document.createTextNode((item.title || d.untitled) + " — " + d.codeLabel + " "));
        li.appendChild(codeLink(item));
        done.appendChild(li);
      });
      document.getElementById("drafts-sent-box").hidden = sent.length === 0;
      var send = document.getElementById("drafts-send");
      if (send) send.hidden = waiting.length === 0 || !navigator.onLine;
    });
  }
  var saved = document.getElementById("draft-saved");
  if (saved && /[?&]da-luu=1/.test(window.location.search)) saved.hidden = false;
  var sendButton = document.getElementById("drafts-send");
  if (sendButton) sendButton.addEventListener("click", function () { sendDrafts(); });
  renderDrafts();

  // -- the send form ------------------------------------------------------------------------------------
  var form = document.querySelector("form.send-form");
  if (form) {
    // A fresh idempotency key for every opening of the form: a form opened from the offline copy must
    // not share its key with another report (the server would keep only the first).
    var key = form.querySelector("input[name='idempotency_key']");
    if (key && window.crypto && crypto.getRandomValues) {
      var bytes = new Uint8Array(24);
      crypto.getRandomValues(bytes);
      key.value = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    }
    // "Sửa" on a draft: the form opens with the draft's fields and photos; once the form is sent (or
    // kept again as a new draft) the old draft is dropped.
    var editing = (window.location.search.match(/[?&]ban-nhap=([0-9a-zA-Z_-]{16,64})/) || [])[1];
    if (editing && window.PaknDrafts) {
      PaknDrafts.list().then(function (drafts) {
        var draft = drafts.filter(function (x) { return x.id === editing; })[0];
        if (!draft) { editing = null; return; }
        draft.fields.forEach(function (f) {
          var els = form.querySelectorAll("[name='" + f[0].replace(/[^a-z_]/g, "") + "']");
          Array.prototype.forEach.call(els, function (el) {
            if (el.type === "radio" || el.type === "checkbox") el.checked = el.value === f[1];
            else if (!el.readOnly) el.value = f[1];
          });
        });
        var input = form.querySelector("input[type='file'][name='files']");
        if (input && window.DataTransfer && draft.files.length) {
          var dt = new DataTransfer();
          draft.files.forEach(function (f) { dt.items.add(new File([f.blob], f.name, {type: f.type})); });
          input.files = dt.files;
        }
        if (key) key.value = draft.id;  // the same report: a retry of it stays one report
      });
    }
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      var action = submitter && submitter.name === "action" ? submitter.value : "send";
      if (editing && action === "send" && window.PaknDrafts) PaknDrafts.remove(editing);
      if (navigator.onLine || action !== "send" || !window.PaknDrafts) return;
      event.preventDefault();
      var data = new FormData(form);
      PaknDrafts.saveForm(data, form.dataset.type).then(function () {
        if (registration && registration.sync) registration.sync.register("pakn-drafts").catch(function () {});
        window.location.href = "/ban-nhap?da-luu=1";
      });
    });
    setupPhotos(form);
    setupLocation();
  }

  // Photos are downscaled here (longest side MAX_EDGE px, JPEG) before they are sent or kept.
  var MAX_EDGE = 1600;
  function setupPhotos(form) {
    var input = form.querySelector("input[type='file'][name='files']");
    if (!input || !window.createImageBitmap || !window.DataTransfer) return;
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files);
      if (!files.some(function (f) { return /^image\/(jpeg|png|webp)$/.test(f.type); })) return;
      input.dataset.resizing = "1";
      Promise.all(files.map(downscale)).then(function (out) {
        var dt = new DataTransfer();
        out.forEach(function (f) { dt.items.add(f); });
        input.files = dt.files;
        delete input.dataset.resizing;
        input.dataset.resized = String(out.length);
      });
    });
  }
  function downscale(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) return Promise.resolve(file);
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, MAX_EDGE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size < 1024 * 1024) return file;
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";  // a transparent PNG becomes a JPEG on white, not on black
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob) return resolve(file);
          resolve(new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", {type: "image/jpeg"}));
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function setupLocation() {
    var button = document.getElementById("use-location");
    var status = document.getElementById("location-status");
    var lat = document.getElementById("lat"), lon = document.getElementById("lon");
    if (!button || !lat || !lon || !navigator.geolocation) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = texts.locating;
      navigator.geolocation.getCurrentPosition(function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        status.textContent = texts.located + " " + lat.value + ", " + lon.value;
      }, function () {
        status.textContent = texts.locationFailed;
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });
  }

  // Drafts left from an earlier visit go now ("on the next visit" where there is no Background Sync).
  sendDrafts();
})();
