// The PAKN service worker (served at /sw.js: its scope is the whole site).
//
// What it keeps, and where (docs/app.md says the same for users):
// - "pakn-shell-v1", shared: the static files, and public pages (PUBLIC) exactly as an anonymous
//   visitor gets them (fetched without cookies at install, or a response that says neither no-store
//   nor private). A page rendered for a logged-in person is never put here.
// - "pakn-user-<marker>", one account's: the send forms, "PAKN của tôi" and "Bản nháp" as that account
//   last saw them, so that they open offline. <marker> is an opaque name of the account given by the
//   pages; a page showing another account (or nobody, while online) drops it, and so does logout
//   (the SW sees the POST, and the logout response also sends Clear-Site-Data).
// - Nothing else: no API answer, no attachment, no staff page is kept.
// Reports sent offline, or whose send failed, are drafts in IndexedDB (static/js/drafts-store.js).
/* global PaknDrafts */
"use strict";
importScripts("/static/js/drafts-store.js");

var SHELL = "pakn-shell-v1";
var USER_PREFIX = "pakn-user-";
var OFFLINE_URL = "/ngoai-tuyen";
var SHELL_FILES = [
  "/static/css/app.css", "/static/js/app.js", "/static/js/drafts-store.js", "/static/js/send.js",
  "/static/js/search.js", "/static/js/flash.js", "/static/app/icon-192.png", "/static/app/favicon-32.png"
];
// Public pages kept as an anonymous visitor sees them (fetched with no cookie).
var SHELL_PAGES = ["/", OFFLINE_URL, "/ban-nhap"];
// Pages of one account: kept only in that account's cache.
var PERSONAL = [/^\/gui-phan-anh$/, /^\/gui-hien-ke$/, /^\/pakn-cua-toi(\/[^/]+)?$/, /^\/ban-nhap$/];
var PERSONAL_WARM = ["/gui-phan-anh", "/gui-hien-ke", "/pakn-cua-toi", "/ban-nhap"];
var SEND_FORMS = {"/gui-phan-anh": "pakn", "/gui-hien-ke": "idea"};
// The only pages the shared cache may keep: public pages any visitor gets alike. Login steps, staff
// pages, saved searches and everything else are never kept, even when their answer allows it.
var PUBLIC = [/^\/$/, /^\/tra-cuu$/, /^\/thong-ke$/, /^\/canh-bao$/, /^\/pakn\/[A-Z0-9-]+$/, /^\/ngoai-tuyen$/];

function isPersonal(path) { return PERSONAL.some(function (re) { return re.test(path); }); }

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) {
    return Promise.all(SHELL_FILES.map(function (url) { return cache.add(url); }).concat(
      SHELL_PAGES.map(function (url) {
        return fetch(url, {credentials: "omit"}).then(function (r) { if (r.ok) return cache.put(url, r); });
      })));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("pakn-shell-") === 0 && k !== SHELL; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function userCacheName() {
  return caches.keys().then(function (keys) {
    return keys.filter(function (k) { return k.indexOf(USER_PREFIX) === 0; })[0] || null;
  });
}

function dropUserCaches(keep) {
  return caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf(USER_PREFIX) === 0 && k !== keep; })
      .map(function (k) { return caches.delete(k); }));
  });
}

// A page tells which account it shows ("" for nobody); sent by app.js only while online.
function setUser(marker) {
  if (!/^[0-9a-f]{0,64}$/.test(marker)) return Promise.resolve();
  var name = marker ? USER_PREFIX + marker : null;
  return dropUserCaches(name).then(function () {
    if (!name) return null;
    return caches.open(name).then(function (cache) {
      return Promise.all(PERSONAL_WARM.map(function (url) {
        return cache.match(url).then(function (hit) {
          if (hit) return null;
          return fetch(url, {credentials: "same-origin", redirect: "manual"}).then(function (r) {
            if (r.status === 200) return cache.put(url, r);
          }).catch(function () {});
        });
      }));
    });
  });
}

function notify(message) {
  return self.clients.matchAll({type: "window"}).then(function (list) {
    list.forEach(function (c) { c.postMessage(message); });
  });
}

function sendDrafts() {
  return PaknDrafts.sendAll("").then(function (sent) {
    return notify({type: "drafts-changed", sent: sent});
  });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "user") event.waitUntil(setUser(String(data.marker || "")));
  if (data.type === "send-drafts") event.waitUntil(sendDrafts());
});

self.addEventListener("sync", function (event) {
  if (event.tag === "pakn-drafts") event.waitUntil(sendDrafts());
});

function keepPage(request, response) {
  var path = new URL(request.url).pathname;
  if (response.status !== 200 || response.redirected || response.type !== "basic") return Promise.resolve();
  if (isPersonal(path)) {
    return userCacheName().then(function (name) {
      if (name) return caches.open(name).then(function (c) { return c.put(path, response); });
    });
  }
  if (!PUBLIC.some(function (re) { return re.test(path); })) return Promise.resolve();
  var cc = (response.headers.get("Cache-Control") || "").toLowerCase();
  if (cc.indexOf("no-store") >= 0 || cc.indexOf("private") >= 0) return Promise.resolve();
  return caches.open(SHELL).then(function (c) { return c.put(request.url, response); });
}

function offlinePage(request) {
  var url = new URL(request.url);
  return userCacheName().then(function (name) {
    var personal = name && isPersonal(url.pathname) ? caches.open(name).then(function (c) {
      return c.match(url.pathname);
    }) : Promise.resolve(null);
    return personal;
  }).then(function (hit) {
    if (hit) return hit;
    if (isPersonal(url.pathname) && url.pathname !== "/ban-nhap") return null;  // never another's copy
    return caches.open(SHELL).then(function (c) {
      return c.match(request.url).then(function (m) { return m || c.match(url.pathname, {ignoreSearch: true}); });
    });
  }).then(function (hit) {
    return hit || caches.match(OFFLINE_URL);
  });
}

function navigate(event) {
  var request = event.request;
  return fetch(request).then(function (response) {
    event.waitUntil(keepPage(request, response.clone()).catch(function () {}));
    return response;
  }, function () { return offlinePage(request); });
}

// A send form posted while the network fails: the report becomes a draft, nothing is lost.
function postSendForm(event, type) {
  var copy = event.request.clone();
  return fetch(event.request).catch(function () {
    return copy.formData().then(function (data) {
      if ((data.get("action") || "send") !== "send") return caches.match(OFFLINE_URL);
      return PaknDrafts.saveForm(data, type).then(function () {
        if (self.registration.sync) self.registration.sync.register("pakn-drafts").catch(function () {});
        return Response.redirect("/ban-nhap?da-luu=1", 303);
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST") {
    if (SEND_FORMS[url.pathname] && request.mode === "navigate") {
      event.respondWith(postSendForm(event, SEND_FORMS[url.pathname]));
    } else if (url.pathname === "/dang-xuat") {
      // Logout: this device forgets the account's pages and drafts even before the answer arrives.
      event.waitUntil(dropUserCaches(null));
    }
    return;
  }
  if (request.method !== "GET" || url.pathname.indexOf("/api/") === 0) return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(event));
  } else if (url.pathname.indexOf("/static/") === 0) {
    // Network first, so that a new deploy is seen at once; the kept copy when offline.
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        event.waitUntil(caches.open(SHELL).then(function (c) { return c.put(request, copy); }));
      }
      return response;
    }, function () {
      return caches.match(request, {cacheName: SHELL}).then(function (m) { return m || Response.error(); });
    }));
  }
});
