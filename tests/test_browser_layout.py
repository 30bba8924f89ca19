"""Nothing a class must read is cut off, at the usual projector sizes (issue 14, item 12).

Every page (its default view at level=Hard, so that its equations are drawn) and every lesson step
(?lesson=K, at the step's own level), in normal and presenter view (?present=true), at 1024×768,
1280×720 and 1920×1080: no equation, control, button, metric or sidebar page name is wider than its
box, cut by a clipping ancestor, truncated with an ellipsis, or beyond the window's right edge.

Each URL is loaded once, in one reused page, and checked at the three sizes by resizing the window:
44 loads, about 1.5 minutes on a 2-core machine. The check looks at geometry only, never at the text,
so it holds whatever the pages come to say.
"""

from __future__ import annotations

import pytest

from devtools import wait_for_app
from explainers.lessons import LESSONS

pytestmark = pytest.mark.browser

WAIT_MS = 120_000  # other workers may be using the 2 CPU cores
SIZES = [(1024, 768), (1280, 720), (1920, 1080)]

# One function, evaluated in the page: {checked: how many elements it looked at, offenders: everything shown
# cut off, each as {kind, why, needed, available (px), key (the Streamlit key class, if any), text}}.
FIT_CHECK = """async () => {
  // Two animation frames: the layout after the last resize has settled. KaTeX's and the app's fonts first.
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const TARGETS = [
    ['.katex-display', 'equation'],
    ['[data-testid="stWidgetLabel"]', 'control label'],
    ['[data-testid="stButtonGroup"]', 'segmented control'],
    ['[data-testid="stButtonGroup"] button', 'segmented option'],
    ['[data-testid="stSelectbox"] input, [data-testid="stMultiSelect"] [data-baseweb="tag"]', 'control value'],
    ['[data-testid="stButton"], [data-testid="stDownloadButton"], [data-testid="stPopover"]', 'button'],
    ['[data-testid="stPageLink"]', 'page link'],
    ['[data-testid^="stBaseButton-"]', 'button'],
    ['[data-testid="stMetric"]', 'metric'],
    ['[data-testid="stSidebarNavLink"]', 'sidebar page'],
  ];
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  const sidebarClosed = sidebar && sidebar.getAttribute('aria-expanded') === 'false';
  const shown = e => {
    if (!e.getClientRects().length) return false;  // display: none, or inside a closed expander
    if (sidebarClosed && sidebar.contains(e)) return false;  // a collapsed sidebar sits off screen on purpose
    return e.checkVisibility({visibilityProperty: true});
  };
  const clips = e => getComputedStyle(e).overflowX !== 'visible';

  // Why `e` is not shown whole, as [reason, needed px, available px], or null.
  const problem = e => {
    // 1. Its content is wider than its own box (spills out, or scrolls or is clipped inside it).
    if (e.scrollWidth > e.clientWidth + 1) return ['content wider than its box', e.scrollWidth, e.clientWidth];
    // 2. Text cut inside it: a clipping descendant (an ellipsis label, a scroller) narrower than its text.
    //    KaTeX's MathML copy for screen readers is clipped to 1 px on purpose.
    for (const d of e.querySelectorAll('*')) {
      if (!d.closest('.katex-mathml') && clips(d) && d.scrollWidth > d.clientWidth + 1 && shown(d))
        return ['text truncated inside it', d.scrollWidth, d.clientWidth];
    }
    // 3. Cut off by a clipping ancestor whose box ends before it does.
    const r = e.getBoundingClientRect();
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (!clips(a)) continue;
      const ar = a.getBoundingClientRect();
      const left = ar.left + a.clientLeft, right = left + a.clientWidth;
      if (r.right > right + 1 || r.left < left - 1)
        return [`clipped by ${a.getAttribute('data-testid') || a.tagName.toLowerCase()}`, r.width, right - left];
    }
    // 4. Off the screen.
    if (r.right > window.innerWidth + 1 || r.left < -1) return ['beyond the window', r.right, window.innerWidth];
    return null;
  };

  const out = [], flagged = [];
  let checked = 0;
  for (const [sel, kind] of TARGETS) {
    for (const e of document.querySelectorAll(sel)) {
      // One report per offender: not again for a part of something already reported.
      if (flagged.some(f => f === e || f.contains(e)) || !shown(e)) continue;
      checked++;
      const p = problem(e);
      if (!p) continue;
      flagged.push(e);
      const key = [...(e.closest('[class*="st-key-"]')?.classList || [])].find(c => c.startsWith('st-key-'));
      const text = e.value || e.innerText || e.textContent || '';
      out.push({kind, why: p[0], needed: Math.round(p[1]), available: Math.round(p[2]), key: key || null,
                text: Array.from(text.replace(/\\s+/g, ' ').trim()).slice(0, 60).join('')});
    }
  }
  return {checked, offenders: out};
}"""


def urls() -> list[str]:
    """Every page's default view with its equations shown, every lesson step, and home: a deep link comes
    first on the fresh server (DESIGN.md's first-deep-link pitfall)."""
    found = []
    for page, steps in LESSONS.items():
        found.append(f"/{page}?level=Hard")
        found += [f"/{page}?lesson={k}" for k in range(1, len(steps) + 1)]
    return found + ["/"]


def offenders_at_sizes(page, url: str) -> list[str]:
    """Load `url` once, then check it at every size; one readable line per offender."""
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[0])))
    page.goto(url)
    wait_for_app(page, WAIT_MS)
    # A page that did render (an error page would pass the check trivially).
    assert page.locator('[data-testid="stException"]').count() == 0, f"{url} raised"
    assert page.locator("h1").first.is_visible(), f"{url} has no title"
    lines = []
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        result = page.evaluate(FIT_CHECK)
        assert result["checked"] >= 4, f"{url}: only {result['checked']} elements looked at"  # 4 page names at least
        for o in result["offenders"]:
            lines.append(f"{url} at {width}×{height}: {o['kind']} {o['text']!r} ({o['key'] or 'no key'}): "
                         f"{o['why']}, needs {o['needed']} px, has {o['available']} px")
    return lines


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presenter"])
def test_nothing_is_cut_off_at_projector_sizes(server, page, present):
    found = []
    for path in urls():
        if present:
            path += ("&" if "?" in path else "?") + "present=true"
        found += offenders_at_sizes(page, server.url + path)
    assert not found, f"{len(found)} cut off:\n" + "\n".join(found)


# What the issue saw before the fix, put back with injected CSS: the check must report each of them.
OLD_LAYOUT_CSS = """
  .katex-display > .katex { white-space: nowrap !important; }
  [data-testid="stSidebarNavLink"] span { white-space: nowrap !important; overflow: hidden !important;
                                          text-overflow: ellipsis !important; }
  .st-key-lesson_buttons button { max-width: 3rem; }
  [data-testid="stButtonGroup"] [role="radiogroup"] { flex-wrap: nowrap !important; overflow-x: auto;
                                                       max-width: 7rem; }
"""


def test_the_check_reports_what_the_issue_saw(server, page):
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{server.url}/backward_noise_init?lesson=1&level=Hard&present=true")
    wait_for_app(page, WAIT_MS)
    assert page.evaluate(FIT_CHECK)["offenders"] == []
    page.add_style_tag(content=OLD_LAYOUT_CSS)
    found = page.evaluate(FIT_CHECK)["offenders"]
    kinds = {o["kind"] for o in found}
    assert {"equation", "sidebar page", "button", "segmented control"} <= kinds, found
    lesson_buttons = [o for o in found if (o["key"] or "").startswith("st-key-_lesson_")]
    assert len(lesson_buttons) == 3 and all(o["needed"] > o["available"] for o in lesson_buttons), found
    # Pushed past the window's right edge, a control is reported (by whichever clipping box it leaves first).
    page.add_style_tag(content=".st-key-level { transform: translateX(110vw); }")
    assert any(o["key"] == "st-key-level" for o in page.evaluate(FIT_CHECK)["offenders"])
