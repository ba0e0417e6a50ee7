// Keyboard shortcuts and small conveniences of the steward UI. Everything here
// is an enhancement: every action is a plain form or link that works without it.
(function () {
  "use strict";

  function typing(event) {
    var el = event.target;
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable;
  }

  // The element bound to a key on the current page: a button or link marked
  // data-shortcut="m". Only visible, enabled ones count.
  function bound(key) {
    var all = document.querySelectorAll('[data-shortcut="' + key + '"]');
    for (var i = 0; i < all.length; i++) {
      var el = all[i];
      if (!el.disabled && el.offsetParent !== null) return el;
    }
    return null;
  }

  // Queue rows: j/k move a selection, Enter opens it.
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-row-href]")); }
  function moveSelection(delta) {
    var list = rows();
    if (!list.length) return false;
    var current = list.findIndex(function (r) { return r.classList.contains("selected"); });
    var next = current < 0 ? 0 : Math.min(list.length - 1, Math.max(0, current + delta));
    list.forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
    list[next].classList.add("selected");
    list[next].setAttribute("aria-selected", "true");
    list[next].scrollIntoView({ block: "nearest" });
    return true;
  }
  function openSelection() {
    var row = document.querySelector("[data-row-href].selected");
    if (row) { window.location.href = row.getAttribute("data-row-href"); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    var key = event.key;
    if (key === "?") {
      var help = document.getElementById("shortcut-help");
      if (help && help.showModal) { help.showModal(); event.preventDefault(); }
      return;
    }
    if (key === "/") {
      var search = document.querySelector('.topsearch input, input[type="search"]');
      if (search) { search.focus(); search.select(); event.preventDefault(); }
      return;
    }
    if (key === "Enter" && openSelection()) { event.preventDefault(); return; }
    var target = bound(key);
    if (target) {
      event.preventDefault();
      target.click();
      return;
    }
    if (key === "j" && moveSelection(1)) event.preventDefault();
    if (key === "k" && moveSelection(-1)) event.preventDefault();
  });

  // Clicking anywhere on a queue row opens it (the title link stays the real link).
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("[data-row-href]");
    if (!row || event.target.closest("a, button, input, select, label, form")) return;
    window.location.href = row.getAttribute("data-row-href");
  });

  // "Select all" checkboxes: <input type=checkbox data-check-all="name">.
  document.addEventListener("change", function (event) {
    var name = event.target.getAttribute && event.target.getAttribute("data-check-all");
    if (!name) return;
    document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });

  // Typing into "another value" selects its radio button: <input data-selects="radio-id">.
  document.addEventListener("input", function (event) {
    var id = event.target.getAttribute && event.target.getAttribute("data-selects");
    var radio = id && document.getElementById(id);
    if (radio) radio.checked = true;
  });

  // A server error (5xx) or a lost connection during an htmx request: say so
  // instead of silently doing nothing.
  function flash(text) {
    var region = document.getElementById("flash");
    if (!region) return;
    var p = document.createElement("p");
    p.className = "msg msg-error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    region.appendChild(p);
    setTimeout(function () { p.remove(); }, 8000);
  }
  document.addEventListener("htmx:responseError", function (event) {
    flash("The server could not complete that request (HTTP " + event.detail.xhr.status + "). Reload the page to see the current state before trying again.");
  });
  document.addEventListener("htmx:sendError", function () {
    flash("The hub could not be reached. Check your connection and try again.");
  });
})();
