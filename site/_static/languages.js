// The link to the other language's page (site/conf.py) leads to the section being read: the
// section of the page's anchor, or else the last one whose top has scrolled past the top of
// the window. Sections carry the same "section-<n>" id in both languages.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a.language-switch");
  if (!link) return;
  const sections = Array.from(document.querySelectorAll("article section"));
  const anchor = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  let section = anchor ? anchor.closest("section") : null;
  if (!section) {
    section = sections.filter((s) => s.getBoundingClientRect().top <= 80).pop() || null;
  }
  if (!section) return;
  const marker = section.id.startsWith("section-") ? section
    : section.querySelector(":scope > span[id^='section-']");
  if (marker) link.href = link.href.split("#")[0] + "#" + marker.id;
});
