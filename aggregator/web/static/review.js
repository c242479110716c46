// Keyboard-first review: c confirm, r reject (with the chosen reason), d duplicate,
// j / k next / previous case. Keys are ignored while typing in a field.
(function () {
  "use strict";
  function go(id) {
    var link = document.getElementById(id);
    if (link) { window.location.href = link.href; }
  }
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (ev.ctrlKey || ev.metaKey || ev.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test(tag)) { return; }
    var form = null;
    if (ev.key === "c") { form = document.getElementById("form-confirm"); }
    else if (ev.key === "r") { form = document.getElementById("form-reject"); }
    else if (ev.key === "d") {
      var dup = document.getElementById("duplicate-of");
      if (dup) { ev.preventDefault(); dup.focus(); }
      return;
    }
    else if (ev.key === "j") { go("next-case"); return; }
    else if (ev.key === "k") { go("prev-case"); return; }
    if (form) { ev.preventDefault(); form.requestSubmit(); }
  });
})();
