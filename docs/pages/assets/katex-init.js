// Typeset math with the KaTeX copy served from this site (no network needed).
// Markdown pages: pymdownx.arithmatex (generic mode) wraps math as \(...\) / \[...\] in
// elements of class "arithmatex". Notebook pages (mkdocs-jupyter): markdown cells keep $...$.
// A formula KaTeX cannot parse is shown in red with class "katex-error" (tests look for it).
document.addEventListener("DOMContentLoaded", function () {
  var options = function (delimiters) {
    return { delimiters: delimiters, throwOnError: false, ignoredClasses: ["highlight"] };
  };
  document.querySelectorAll(".arithmatex").forEach(function (el) {
    renderMathInElement(el, options([
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ]));
  });
  document.querySelectorAll(".jupyter-wrapper .jp-MarkdownCell").forEach(function (el) {
    renderMathInElement(el, options([
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ]));
  });
});
