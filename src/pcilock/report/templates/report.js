(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("pcilock-data").textContent);
  var panel = document.getElementById("callchain");
  var body = document.getElementById("callchain-body");
  var selected = null;

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    return n;
  }

  function frameText(f) {
    var t = f.function + "  " + f.model_file + (f.line === null ? "" : ":" + f.line);
    return t;
  }

  function show(node) {
    var v = data.violations[Number(node.getAttribute("data-v"))];
    var step = node.getAttribute("data-step");
    var item = step.indexOf("pending") === 0 ? v.pending[node.getAttribute("data-task")] : v.events[step];
    if (!item) { return; }
    if (selected) { selected.classList.remove("selected"); }
    selected = node;
    node.classList.add("selected");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    body.appendChild(el("h3", null, item.title));
    body.appendChild(el("p", "op", item.op));
    var held = el("p", "held");
    held.appendChild(el("b", null, item.pending ? "holds: " : "held before: "));
    held.appendChild(document.createTextNode(item.held.length ? item.held.join(", ") : "nothing"));
    body.appendChild(held);
    if (item.waits) { body.appendChild(el("p", "waits", item.waits)); }
    body.appendChild(el("h4", null, "call chain (outermost first)"));
    var ol = el("ol", "frames");
    item.stack.forEach(function (f) {
      var li = el("li", "frame");
      li.appendChild(el("span", "fn", f.function));
      li.appendChild(el("span", "loc", f.model_file + (f.line === null ? "" : ":" + f.line)));
      if (f.mirrors) { li.appendChild(el("span", "mirrors", f.mirrors)); }
      li.title = frameText(f);
      ol.appendChild(li);
    });
    if (!item.stack.length) { ol.appendChild(el("li", "none", "no call chain recorded")); }
    body.appendChild(ol);
    if (item.notes && item.notes.length) {
      var ul = el("ul", "notes");
      item.notes.forEach(function (n) { ul.appendChild(el("li", null, n)); });
      body.appendChild(ul);
    }
    panel.classList.add("active");
  }

  document.addEventListener("click", function (ev) {
    var n = ev.target.closest ? ev.target.closest(".event") : null;
    if (n) { show(n); }
  });
  document.addEventListener("keydown", function (ev) {
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.classList &&
        ev.target.classList.contains("event")) {
      ev.preventDefault();
      show(ev.target);
    }
  });
})();
