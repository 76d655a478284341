for (const [id, spec] of Object.entries(SPECS)) {
  vegaEmbed("#" + id, spec, {actions: false, renderer: "svg"})
    .then(function () { document.getElementById(id).dataset.rendered = "true"; })
    .catch(function (err) { window.__reportError("chart " + id + ": " + err); });
}
