// Sorts a table when one of its column headers is clicked: numbers by value, text by code point,
// empty cells last in either direction, ties in their original order; a second click reverses.
// `#click=p95` in the address clicks that header once the page has loaded (`#click=p95,p95`
// clicks it twice), so a link can open a sorted view and a headless browser can test the sort.
(function () {
  "use strict";

  function sortBy(header) {
    var table = header.closest("table");
    var column = header.cellIndex;
    var numeric = header.dataset.type === "number";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(header.parentNode.cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.value;
      var y = b.cells[column].dataset.value;
      var order;
      if (x === "" || y === "") {
        order = (x === "" ? 1 : 0) - (y === "" ? 1 : 0);
      } else {
        order = numeric ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
        if (!ascending) {
          order = -order;
        }
      }
      return order || Number(a.dataset.index) - Number(b.dataset.index);
    });
    rows.forEach(function (row) {
      body.appendChild(row);
    });
    table.dataset.sorted = header.dataset.key + (ascending ? " ascending" : " descending");
  }

  document.querySelectorAll("table.sortable th[data-key]").forEach(function (header) {
    header.addEventListener("click", function () {
      sortBy(header);
    });
  });

  var clicks = /^#click=([\w,-]+)$/.exec(window.location.hash);
  if (clicks) {
    clicks[1].split(",").forEach(function (key) {
      var header = document.querySelector('table.sortable th[data-key="' + key + '"]');
      if (header) {
        header.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, view: window }));
      }
    });
  }
})();
