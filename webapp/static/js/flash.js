// Flash messages (base.html): each gets a close button; a confirmation closes itself after a few
// seconds (not while the pointer or the keyboard focus is on it). Error messages stay until closed:
// a user who reads slowly must not lose what went wrong.
(function () {
  var DELAY = 6000;
  var messages = document.querySelectorAll(".flash-message");
  Array.prototype.forEach.call(messages, function (box) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "flash-close";
    button.setAttribute("aria-label", box.getAttribute("data-close-label") || "Đóng");
    button.textContent = "×";
    button.addEventListener("click", function () { box.remove(); });
    box.appendChild(button);
    if (box.classList.contains("flash-error")) return;
    var timer = null;
    function start() { timer = window.setTimeout(function () { box.classList.add("flash-gone"); window.setTimeout(function () { box.remove(); }, 400); }, DELAY); }
    function stop() { if (timer) window.clearTimeout(timer); timer = null; }
    box.addEventListener("mouseenter", stop);
    box.addEventListener("focusin", stop);
    box.addEventListener("mouseleave", start);
    box.addEventListener("focusout", start);
    start();
  });
})();
