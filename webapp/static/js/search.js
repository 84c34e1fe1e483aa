// Tra cứu: on a phone, the "Bộ lọc" button shows the facets above the results (the page works
// without this script: the facets are then simply shown above the results).
(function () {
  var button = document.querySelector(".filters-button");
  var facets = document.getElementById("facets");
  if (!button || !facets) return;
  button.hidden = false;
  facets.parentNode.classList.add("has-filters-button");
  button.addEventListener("click", function () {
    var open = facets.classList.toggle("open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();

// Tra cứu: filter the ward list as the user types (the page works without this script).
(function () {
  var input = document.getElementById("region-filter");
  var select = document.getElementById("region");
  if (!input || !select) return;
  input.hidden = false;
  function fold(s) {
    return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
  }
  input.addEventListener("input", function () {
    var wanted = fold(input.value.trim());
    Array.prototype.forEach.call(select.options, function (opt) {
      opt.hidden = wanted !== "" && opt.value !== "" && fold(opt.text).indexOf(wanted) === -1;
    });
  });
})();
