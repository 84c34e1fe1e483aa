// Drafts kept on this device (IndexedDB "pakn"), shared by the pages (static/js/app.js) and the
// service worker (static/sw.js, importScripts). A draft is a report the citizen sent while offline, or
// whose send failed: its form fields, its photos (already downscaled by app.js) and the send form's
// idempotency key, which is the draft's id. Sending a draft posts it to POST /api/v1/reports as
// multipart with that key as Idempotency-Key, so that however often it is tried (Background Sync,
// the page's "online" event, the next visit) the server keeps exactly one report.
(function (scope) {
  "use strict";
  var DB = "pakn", VERSION = 1, LOCK = "pakn-drafts-send";
  // Form fields that are not part of a report (the CSRF token, the form's buttons, uploads kept on
  // the server for the HTML form, the phone-verification step): never stored in a draft.
  var SKIP = {csrf_token: 1, action: 1, upload_token: 1, remove_upload: 1, phone_code: 1, files: 1,
              idempotency_key: 1, incident_at: 1};

  function open() {
    return new Promise(function (resolve, reject) {
      var req = scope.indexedDB.open(DB, VERSION);
      req.onupgradeneeded = function () {
        var db = req.result;
        if (!db.objectStoreNames.contains("drafts")) db.createObjectStore("drafts", {keyPath: "id"});
        if (!db.objectStoreNames.contains("sent")) db.createObjectStore("sent", {keyPath: "id"});
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function tx(store, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store, mode), result;
        var s = t.objectStore(store);
        Promise.resolve(work(s)).then(function (r) { result = r; });
        t.oncomplete = function () { db.close(); resolve(result); };
        t.onerror = t.onabort = function () { db.close(); reject(t.error); };
      });
    });
  }

  function all(store) {
    return tx(store, "readonly", function (s) {
      return new Promise(function (resolve) {
        var req = s.getAll();
        req.onsuccess = function () { resolve(req.result || []); };
      });
    }).then(function (items) { return items || []; });
  }

  function randomKey() {
    var bytes = new Uint8Array(18);
    scope.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /** Keep the send form's FormData as a draft; resolves to the draft. */
  function saveForm(formData, type) {
    var fields = [], files = [];
    formData.forEach(function (value, name) {
      if (name === "files") {
        if (value && value.size) files.push({name: value.name || "anh.jpg", type: value.type, blob: value});
      } else if (!SKIP[name] && typeof value === "string") {
        fields.push([name, value]);
      }
    });
    var key = formData.get("idempotency_key");
    var draft = {id: (typeof key === "string" && key.length >= 16 && key.length <= 64) ? key : randomKey(),
                 type: type === "idea" ? "idea" : "pakn", fields: fields, files: files.slice(0, 5),
                 savedAt: new Date().toISOString(), error: null};
    return tx("drafts", "readwrite", function (s) { s.put(draft); }).then(function () { return draft; });
  }

  function title(draft) {
    for (var i = 0; i < draft.fields.length; i++) if (draft.fields[i][0] === "title") return draft.fields[i][1];
    return "";
  }

  function sendOne(draft, base) {
    var body = new FormData();
    body.append("type", draft.type);
    draft.fields.forEach(function (f) { body.append(f[0], f[1]); });
    draft.files.forEach(function (f) { body.append("files", f.blob, f.name); });
    return fetch(base + "/api/v1/reports", {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"X-Requested-With": "fetch", "Idempotency-Key": draft.id, "Accept": "application/json"}
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 200 || response.status === 201) {
          var sent = {id: draft.id, code: data.code, title: title(draft), sentAt: new Date().toISOString()};
          return tx("sent", "readwrite", function (s) { s.put(sent); })
            .then(function () { return tx("drafts", "readwrite", function (s) { s.delete(draft.id); }); })
            .then(function () { return sent; });
        }
        // Refused (not logged in, a field the server does not accept, too many sends): the draft stays,
        // with the server's message, for the citizen to open and fix. Only a network failure is retried.
        var message = (data.error && data.error.message) || ("HTTP " + response.status);
        draft.error = {status: response.status, message: message, code: data.error && data.error.code};
        return tx("drafts", "readwrite", function (s) { s.put(draft); }).then(function () { return null; });
      });
    });
  }

  /** Try to send every draft once; resolves to the list of drafts sent ({id, code, title}). */
  function sendAll(base) {
    base = base || "";
    function run() {
      return all("drafts").then(function (drafts) {
        var sent = [];
        return drafts.reduce(function (chain, draft) {
          return chain.then(function () {
            // A refused draft waits for the citizen (who may log in again); a 401 is retried.
            if (draft.error && draft.error.status !== 401 && draft.error.status !== 429) return null;
            return sendOne(draft, base).then(function (r) { if (r) sent.push(r); });
          });
        }, Promise.resolve()).then(function () { return sent; }, function () { return sent; });
      });
    }
    // One sender at a time across the pages and the service worker (the key keeps it exactly once anyway).
    var locks = scope.navigator && scope.navigator.locks;
    return locks ? locks.request(LOCK, run) : run();
  }

  function remove(id) { return tx("drafts", "readwrite", function (s) { s.delete(id); }); }
  function forgetSent(id) { return tx("sent", "readwrite", function (s) { s.delete(id); }); }

  scope.PaknDrafts = {saveForm: saveForm, list: function () { return all("drafts"); },
                      sent: function () { return all("sent"); }, sendAll: sendAll, remove: remove,
                      forgetSent: forgetSent, title: title};
})(self);
