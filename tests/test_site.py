"""The rendered course: pages build, every local link and image exists, and a real headless
browser (Debian's chromium) loads the pages and renders their figures. The screenshot of the
first notebook is kept in build/test-artifacts/ for a person to look at."""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from utils.course import assignments, site
from utils.course.assignments import REPO_ROOT

ARTIFACTS = REPO_ROOT / "build" / "test-artifacts"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("href", "src"):
            if tag in ("a", "img", "link", "script") and attrs.get(key):
                self.links.append(attrs[key])


@pytest.fixture(scope="module")
def student_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    return out, site.build_student_site(out)


def test_a_page_per_assignment_and_no_solutions(student_site):
    out, pages = student_site
    assert [p.name for p in pages[1:]] == [f"{a.id}.html" for a in assignments.available()]
    for page in pages[1:]:
        text = page.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        assert "Expected output" in text


def test_every_local_link_and_image_exists(student_site):
    out, pages = student_site
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text())
        local = [link.split("#")[0] for link in parser.links
                 if not link.startswith(("http://", "https://", "data:", "#", "mailto:"))]
        missing = [link for link in local if link and not (page.parent / link).exists()]
        assert not missing, f"{page.name}: broken links {missing}"


CHECKER = """<!DOCTYPE html><html><body><div id="result">pending</div><script>
const pages = %s, result = {};
let left = pages.length;
for (const page of pages) {
  const frame = document.createElement("iframe");
  frame.onload = () => {
    const doc = frame.contentDocument;
    const images = Array.from(doc.images);
    result[page] = {title: doc.title, cells: doc.querySelectorAll(".jp-Cell").length,
                    images: images.length,
                    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)};
    if (--left === 0) document.getElementById("result").textContent = JSON.stringify(result);
  };
  frame.src = page;
  document.body.appendChild(frame);
}
</script></body></html>"""


@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (apt-get install chromium)")
def test_pages_load_and_images_render_in_chromium(student_site):
    out, pages = student_site
    relative = [str(p.relative_to(out)) for p in pages[1:]]
    (out / "check.html").write_text(CHECKER % json.dumps(relative))
    common = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
              "--virtual-time-budget=20000"]
    dom = subprocess.run([*common, "--dump-dom", (out / "check.html").as_uri()],
                         capture_output=True, text=True, timeout=180).stdout
    text = dom.split('<div id="result">')[1].split("</div>")[0]
    assert text != "pending", "the pages did not finish loading"
    result = json.loads(text.replace("&quot;", '"').replace("&amp;", "&"))
    for page, info in result.items():
        assert info["cells"] > 10 and not info["broken"], (page, info)
    first = result[relative[0]]
    assert first["images"] >= 4  # the four figures of assignment 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "site_conv_step_by_step.png"
    screenshot.unlink(missing_ok=True)
    subprocess.run([*common, f"--screenshot={screenshot}", "--window-size=1280,2400",
                    pages[1].as_uri()], capture_output=True, timeout=180)
    assert screenshot.is_file() and screenshot.stat().st_size > 20_000


def test_instructor_site_is_separate_and_executed(student_site, tmp_path):
    out, _ = student_site
    pages = site.build_instructor_site(tmp_path / "instructor", ["C4W1A1_conv_step_by_step"])
    text = pages[1].read_text()
    assert "BEGIN SOLUTION" in text and "BEGIN HIDDEN TESTS" in text
    assert "zero_pad: all public tests passed" in text and "image/png" in text
    assert not any(out.rglob("*reference*")) and "Do not publish" in pages[0].read_text()
