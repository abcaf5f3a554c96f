// Quanzi editor console: the little behaviour htmx does not give by attributes alone.
// Drag-and-drop reordering, keyboard reordering (Alt+↑/↓), the review queue's shortcuts,
// and keeping keyboard focus where the editor was after htmx swaps a fragment in.
(function () {
  "use strict";

  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT"
      || el.isContentEditable);
  }

  // After a swap, focus what the server marked (e.g. the item just moved), else leave it.
  function restoreFocus() {
    var el = document.querySelector("[data-focus]");
    if (!el) return;
    el.removeAttribute("data-focus");
    el.classList.add("restored");  // show the ring even where :focus-visible would not
    el.focus({ focusVisible: true });
  }
  document.addEventListener("htmx:after:swap", restoreFocus);
  // A new request clears the last error message (an error answer puts its own back).
  document.addEventListener("htmx:before:request", function () {
    var flash = document.getElementById("flash");
    if (flash) flash.innerHTML = "";
  });
  document.addEventListener("DOMContentLoaded", restoreFocus);

  // --- collection builder: drag and drop, then POST the whole order -----------------
  var dragged = null;
  document.addEventListener("dragstart", function (e) {
    var li = e.target.closest && e.target.closest("li[data-post-id]");
    if (!li) return;
    dragged = li;
    li.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", li.dataset.postId);
  });
  document.addEventListener("dragover", function (e) {
    var li = e.target.closest && e.target.closest("li[data-post-id]");
    if (!dragged || !li || li === dragged || li.parentNode !== dragged.parentNode) return;
    e.preventDefault();
    var box = li.getBoundingClientRect();
    var after = e.clientY > box.top + box.height / 2;
    li.parentNode.insertBefore(dragged, after ? li.nextSibling : li);
  });
  document.addEventListener("drop", function (e) {
    if (dragged) e.preventDefault();
  });
  document.addEventListener("dragend", function () {
    if (!dragged) return;
    var list = dragged.parentNode;
    dragged.classList.remove("dragging");
    dragged = null;
    var form = document.getElementById("reorder-form");
    if (!form || !list) return;
    var order = Array.prototype.map.call(list.querySelectorAll("li[data-post-id]"),
      function (li) { return li.dataset.postId; });
    if (order.join(",") === form.dataset.current) return;
    form.querySelector("input[name=order]").value = order.join(",");
    form.requestSubmit();
  });

  // Alt+↑ / Alt+↓ on an item moves it (the same as its Move up / Move down buttons).
  document.addEventListener("keydown", function (e) {
    if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
    var li = document.activeElement && document.activeElement.closest
      && document.activeElement.closest("li[data-post-id]");
    if (!li) return;
    var button = li.querySelector(e.key === "ArrowUp" ? "[data-move=up]" : "[data-move=down]");
    if (button) { e.preventDefault(); button.click(); }
  });

  // --- review queue shortcuts: j/k move, a approve, r reject, / reason, ? help ------
  function cards() { return Array.prototype.slice.call(document.querySelectorAll(".review-card")); }
  function current() {
    var active = document.activeElement;
    var card = active && active.closest && active.closest(".review-card");
    return card || document.querySelector(".review-card.focused") || cards()[0];
  }
  function select(card) {
    cards().forEach(function (c) { c.classList.remove("focused"); });
    if (!card) return;
    card.classList.add("focused");
    card.focus();
    card.scrollIntoView({ block: "nearest" });
  }
  function decide(card, decision) {
    var reason = card.querySelector("input[name=reason]");
    if (reason && !reason.value.trim()) {
      reason.value = decision === "pass" ? "Approved: no rule broken"
        : "Rejected: " + Array.prototype.map.call(
            card.querySelectorAll("input[name=labels]:checked"),
            function (i) { return i.value; }).join(", ");
    }
    var button = card.querySelector("button[value=" + decision + "]");
    if (button) button.click();
  }
  document.addEventListener("keydown", function (e) {
    if (!document.querySelector(".review-queue")) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (typing(document.activeElement)) {
      if (e.key === "Escape") { var c = current(); if (c) select(c); }
      return;
    }
    var list = cards();
    var card = current();
    var at = list.indexOf(card);
    if (e.key === "j") { select(list[Math.min(at + 1, list.length - 1)]); }
    else if (e.key === "k") { select(list[Math.max(at - 1, 0)]); }
    else if (e.key === "a" && card) { decide(card, "pass"); }
    else if (e.key === "r" && card) { decide(card, "reject"); }
    else if (e.key === "/" && card) { card.querySelector("input[name=reason]").focus(); }
    else if (e.key === "?") {
      var help = document.getElementById("shortcuts");
      if (help) help.open = !help.open;
    } else { return; }
    e.preventDefault();
  });
  // A decided card is replaced by its outcome; move on to the next open card.
  document.addEventListener("htmx:after:swap", function () {
    var done = document.querySelector(".review-done[data-next]");
    if (!done) return;
    done.removeAttribute("data-next");
    var next = cards().filter(function (c) {
      return done.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING;
    })[0] || cards()[0];
    if (next) select(next); else done.focus();
  });
})();
