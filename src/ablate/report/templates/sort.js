// Click a header of a sortable table to sort its rows by that column (again: reverse).
// Cells carry data-sort: a number sorts numerically, missing values ("") go last.
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.dataset.order !== "asc";
      Array.prototype.forEach.call(heads, function (h) { delete h.dataset.order; });
      th.dataset.order = asc ? "asc" : "desc";
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.sort || "", y = b.cells[col].dataset.sort || "";
        if (x === "" || y === "") return (x === "") - (y === "");
        var nx = Number(x), ny = Number(y), cmp;
        cmp = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
        return asc ? cmp : -cmp;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  // Whether the table fits its column without scrolling sideways (read by the browser test).
  var box = table.parentElement;
  table.dataset.fits = String(box.scrollWidth <= box.clientWidth + 1);
});
