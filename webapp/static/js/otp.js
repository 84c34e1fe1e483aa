// Code page: count the code's lifetime down and follow the SMS delivery state (works without it).
(function () {
  var box = document.getElementById("otp");
  if (!box) return;
  var left = parseInt(box.dataset.secondsLeft, 10) || 0;
  var resendIn = parseInt(box.dataset.resendIn, 10) || 0;
  var leftEl = document.getElementById("otp-left");
  var hint = document.getElementById("otp-resend-hint");
  var failed = document.getElementById("otp-sms-failed");
  function tick() {
    if (left > 0) left -= 1;
    if (resendIn > 0) resendIn -= 1;
    if (leftEl) leftEl.textContent = String(left);
    if (hint) hint.textContent = resendIn > 0 ? hint.textContent.replace(/\d+/, String(resendIn)) : "";
  }
  setInterval(tick, 1000);
  var polls = 0;
  function poll() {
    if (polls++ > 20) return;
    fetch(box.dataset.statusUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.sms_status === "failed" && failed) { failed.hidden = false; resendIn = 0; return; }
        if (s.sms_status === "queued") setTimeout(poll, 2000);
      }).catch(function () {});
  }
  setTimeout(poll, 1500);
})();
