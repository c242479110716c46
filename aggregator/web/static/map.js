// Grid map: zoom by viewBox (select or panel button), click a grid to load its panel.
(function () {
  "use strict";
  var svg = document.getElementById("grid-map");
  var select = document.getElementById("zoom-select");
  var panel = document.getElementById("grid-panel");
  if (!svg) { return; }
  function zoom(box) {
    var p = box.split(" ").map(Number);
    var pad = Math.max(p[2], p[3]) * 0.05;
    svg.setAttribute("viewBox", [p[0] - pad, p[1] - pad, p[2] + 2 * pad, p[3] + 2 * pad].join(" "));
  }
  function zoomToCode(code) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].dataset.code === code) {
        select.selectedIndex = i; zoom(select.options[i].value); return;
      }
    }
  }
  select.addEventListener("change", function () {
    if (select.selectedIndex === 0) { svg.setAttribute("viewBox", svg.dataset.full); }
    else { zoom(select.value); }
  });
  svg.addEventListener("click", function (ev) {
    var target = ev.target.closest("path.grid");
    if (!target) { return; }
    var old = svg.querySelector("path.selected");
    if (old) { old.classList.remove("selected"); }
    target.classList.add("selected");
    target.parentNode.appendChild(target);  // draw the outline on top
    fetch("/map/grids/" + encodeURIComponent(target.dataset.code), { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) { panel.innerHTML = html; });
  });
  panel.addEventListener("click", function (ev) {
    var button = ev.target.closest("button.zoom-to");
    if (button) { zoomToCode(button.dataset.code); }
  });
  svg.addEventListener("dblclick", function (ev) {
    var target = ev.target.closest("path.grid");
    if (target) { zoomToCode(target.dataset.community); }
  });
})();
