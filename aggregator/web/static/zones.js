// Zone editor: polygons in normalized coordinates (0..1) drawn on a canvas over the
// camera picture. Click adds a point to the current zone, drag moves a point,
// double-click deletes one; zones are saved as JSON with the page's CSRF token.
(function () {
  "use strict";
  var box = document.getElementById("zone-editor");
  var canvas = document.getElementById("zone-canvas");
  if (!box || !canvas) { return; }
  var editable = box.dataset.editable === "1";
  var zones = JSON.parse(document.getElementById("zones-data").textContent || "[]");
  var current = zones.length ? 0 : -1;
  var drag = null;
  var moved = false;
  var COLOURS = ["#ffca28", "#4fc3f7", "#81c784", "#f06292", "#ba68c8", "#ff8a65", "#e0e0e0"];
  var list = document.getElementById("zone-list");
  var purpose = document.getElementById("zone-purpose");
  var status = document.getElementById("zone-status");

  function size() {
    var r = box.getBoundingClientRect();
    canvas.width = Math.round(r.width); canvas.height = Math.round(r.height);
    draw();
  }
  function toPx(p) { return [p[0] * canvas.width, p[1] * canvas.height]; }
  function fromEvent(ev) {
    var r = canvas.getBoundingClientRect();
    var x = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
    var y = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
    return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
  }
  function hit(ev) {
    var r = canvas.getBoundingClientRect();
    var px = ev.clientX - r.left, py = ev.clientY - r.top;
    for (var z = zones.length - 1; z >= 0; z--) {
      var poly = zones[z].polygon;
      for (var i = 0; i < poly.length; i++) {
        var q = toPx(poly[i]);
        if (Math.abs(q[0] - px) < 9 && Math.abs(q[1] - py) < 9) { return { zone: z, point: i }; }
      }
    }
    return null;
  }
  function draw() {
    var ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    zones.forEach(function (zone, z) {
      var colour = COLOURS[z % COLOURS.length];
      var poly = zone.polygon;
      if (!poly.length) { return; }
      ctx.beginPath();
      poly.forEach(function (p, i) { var q = toPx(p); if (i) { ctx.lineTo(q[0], q[1]); } else { ctx.moveTo(q[0], q[1]); } });
      if (poly.length > 2) { ctx.closePath(); }
      ctx.fillStyle = colour + (z === current ? "55" : "30");
      ctx.strokeStyle = colour; ctx.lineWidth = z === current ? 3 : 2;
      if (poly.length > 2) { ctx.fill(); }
      ctx.stroke();
      poly.forEach(function (p) {
        var q = toPx(p);
        ctx.fillStyle = z === current ? "#fff" : colour;
        ctx.fillRect(q[0] - 4, q[1] - 4, 8, 8);
        ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.strokeRect(q[0] - 4, q[1] - 4, 8, 8);
      });
      var first = toPx(poly[0]);
      ctx.font = "bold 13px sans-serif"; ctx.fillStyle = colour;
      ctx.fillText(zone.id + " · " + zone.purpose, first[0] + 6, first[1] - 6);
    });
    renderList();
  }
  function renderList() {
    if (!list) { return; }
    list.innerHTML = "";
    zones.forEach(function (zone, z) {
      var li = document.createElement("li");
      li.className = z === current ? "current" : "";
      li.dataset.zone = zone.id;
      var sw = document.createElement("span");
      sw.className = "swatch"; sw.style.background = COLOURS[z % COLOURS.length];
      li.appendChild(sw);
      li.appendChild(document.createTextNode(zone.id + " · " + zone.purpose + " · " + zone.polygon.length + " pts"));
      li.addEventListener("click", function () { current = z; syncPurpose(); draw(); });
      list.appendChild(li);
    });
  }
  function syncPurpose() { if (purpose && current >= 0) { purpose.value = zones[current].purpose; } }
  function newZone() {
    var n = zones.length + 1, ids = zones.map(function (z) { return z.id; });
    while (ids.indexOf("z" + n) >= 0) { n++; }
    zones.push({ id: "z" + n, purpose: purpose ? purpose.value : "no_dumping", polygon: [] });
    current = zones.length - 1;
    draw();
  }
  if (editable) {
    canvas.addEventListener("mousedown", function (ev) {
      var h = hit(ev);
      moved = false;
      if (h) { drag = h; current = h.zone; syncPurpose(); }
    });
    canvas.addEventListener("mousemove", function (ev) {
      if (!drag) { return; }
      moved = true;
      zones[drag.zone].polygon[drag.point] = fromEvent(ev);
      draw();
    });
    window.addEventListener("mouseup", function () { drag = null; });
    canvas.addEventListener("click", function (ev) {
      if (moved || hit(ev)) { moved = false; return; }
      if (current < 0) { newZone(); }
      zones[current].polygon.push(fromEvent(ev));
      draw();
    });
    canvas.addEventListener("dblclick", function (ev) {
      var h = hit(ev);
      if (h) { zones[h.zone].polygon.splice(h.point, 1); draw(); }
    });
    if (purpose) {
      purpose.addEventListener("change", function () {
        if (current >= 0) { zones[current].purpose = purpose.value; draw(); }
      });
    }
    document.getElementById("zone-new").addEventListener("click", newZone);
    document.getElementById("zone-delete").addEventListener("click", function () {
      if (current >= 0) { zones.splice(current, 1); current = zones.length - 1; syncPurpose(); draw(); }
    });
    document.getElementById("zone-save").addEventListener("click", function () {
      var token = document.querySelector("meta[name=csrf-token]").content;
      var keep = zones.filter(function (z) { return z.polygon.length >= 3; });
      status.textContent = "…";
      fetch("/api/cameras/" + encodeURIComponent(box.dataset.camera), {
        method: "PATCH",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify({ zones: keep })
      }).then(function (r) {
        return r.json().then(function (body) {
          if (r.ok) { zones = body.zones; current = zones.length - 1; status.textContent = status.dataset.saved; status.className = "saved"; }
          else {
            var detail = body.detail;
            if (typeof detail !== "string") { detail = JSON.stringify(detail); }
            status.textContent = detail || r.status; status.className = "error";
          }
          draw();
        });
      });
    });
  }
  var toggle = document.getElementById("toggle-enabled");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var token = document.querySelector("meta[name=csrf-token]").content;
      fetch("/api/cameras/" + encodeURIComponent(box.dataset.camera), {
        method: "PATCH",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify({ enabled: toggle.dataset.enabled !== "1" })
      }).then(function (r) { if (r.ok) { window.location.reload(); } });
    });
  }
  syncPurpose();
  var img = document.getElementById("snapshot");
  if (img && !img.complete) { img.addEventListener("load", size); img.addEventListener("error", function () { setTimeout(size, 0); }); }
  window.addEventListener("resize", size);
  size();
})();
