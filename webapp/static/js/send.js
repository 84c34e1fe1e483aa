// Send form: a form that came back with errors puts the focus on its error summary (read out by
// screen readers), whose links take the focus to each field; suggests similar published reports
// while the title/content are typed (optional).
(function () {
  var summary = document.getElementById("error-summary");
  if (!summary) return;
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    var target = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();  // a fragment link alone scrolls but leaves the focus where it was
    var details = target.closest("details");
    if (details) details.open = true;
    target.focus();
    var label = target.id && document.querySelector("label[for='" + target.id + "']");
    (label || target).scrollIntoView({block: "center"});
  });
})();
(function () {
  var script = document.getElementById("send-js");
  var box = document.getElementById("similar");
  var title = document.getElementById("title");
  var content = document.getElementById("content");
  if (!script || !box || !title || !content) return;
  var url = script.dataset.similarUrl, timer = null, last = "";
  var token = document.querySelector('input[name="csrf_token"]');
  function update() {
    var text = (title.value + " " + content.value).trim();
    if (text.length < 8 || text === last) return;
    last = text;
    fetch(url, {method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token ? token.value : ""},
                body: JSON.stringify({text: text.slice(0, 200)})})
      .then(function (r) { return r.ok ? r.json() : {items: []}; })
      .then(function (data) {
        var list = box.querySelector("ul");
        list.textContent = "";
        (data.items || []).forEach(function (item) {
          var li = document.createElement("li"), a = document.createElement("a");
          a.href = item.url; a.textContent = item.title; a.target = "_blank"; a.rel = "noopener";
          li.appendChild(a);
          var s = document.createElement("span"); s.className = "muted"; s.textContent = " · " + item.status.label;
          li.appendChild(s); list.appendChild(li);
        });
        box.hidden = !(data.items && data.items.length);
      }).catch(function () {});
  }
  function later() { clearTimeout(timer); timer = setTimeout(update, 600); }
  title.addEventListener("input", later);
  content.addEventListener("input", later);
})();
(function () {
  // After "Gửi mã xác thực" or a wrong code: the focus goes to the code field; after the phone is
  // verified: to the notice saying so (the page reloads at its top otherwise).
  if (document.getElementById("error-summary")) return;
  var code = document.getElementById("phone_code");
  var notice = document.getElementById("phone-notice");
  var target = code && (notice || code.getAttribute("aria-invalid")) ? code : notice;
  if (!target) return;
  if (target === notice) notice.setAttribute("tabindex", "-1");
  target.focus();
  target.scrollIntoView({block: "center"});
})();
