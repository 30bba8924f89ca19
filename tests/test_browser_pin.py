"""Pin and compare in a real browser: pin a view as A, move to B, and every figure draws A faded under B,
with a table of both views' key numbers; a link with `pin=` reproduces both."""

from urllib.parse import quote

import pytest

from devtools import wait_until_settled

pytestmark = pytest.mark.browser

# page -> (A's settings as a pin, B's own URL values, a key number that must differ between A and B)
LINKS = {
    "noise_schedule": ("schedule=linear", "schedule=sigmoid", "T/2"),
    "backward_noise_init": ("reading=temporal_index&sigma_init=0.05", "reading=temporal_index", "mean ball speed"),
    "spectral_norm": ("m_D.hidden1=sn", "m_D.out=sn", "σ of D.hidden1"),
}

A_TRACES = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .flatMap(p => (p.data || []).filter(t => (t.name || '').startsWith('A: ')).map(t => t.name))"""


def table_rows(page):
    table = page.locator(".st-key-pin_bar table").first
    table.wait_for(timeout=60_000)
    return table.inner_text()


@pytest.mark.parametrize("name", list(LINKS))
def test_a_link_with_a_pin_draws_both_views(server, page, name):
    pin, own, differing = LINKS[name]
    page.goto(f"{server.url}/{name}?{own}&pin={quote(pin)}")
    wait_until_settled(page)
    page.get_by_role("button", name="Unpin A").wait_for(timeout=60_000)
    wait_until_settled(page)
    page.get_by_text("A (pinned) against B (this view)").wait_for(timeout=60_000)
    page.wait_for_function(f"({A_TRACES})().length > 0", timeout=60_000)  # a figure draws A's traces
    assert "pin=" in page.url and own.split("&")[0] in page.url  # the link still carries both
    text = table_rows(page)
    assert differing in text


def test_pin_then_move_then_unpin(server, page):
    page.goto(f"{server.url}/spectral_norm")
    wait_until_settled(page)
    assert page.evaluate(A_TRACES) == []
    page.get_by_role("button", name="Pin this view as A").click()
    page.get_by_role("button", name="Unpin A").wait_for(timeout=60_000)
    assert "pin=" in page.url
    page.locator(".st-key-m_D-hidden1").get_by_text("SN", exact=True).click()  # B: SN on D.hidden1
    wait_until_settled(page)
    page.wait_for_function(f"({A_TRACES})().length > 0", timeout=60_000)
    assert "σ of D.hidden1" in table_rows(page)
    page.get_by_role("button", name="Unpin A").click()
    page.get_by_role("button", name="Pin this view as A").wait_for(timeout=60_000)
    wait_until_settled(page)
    assert page.evaluate(A_TRACES) == [] and "pin=" not in page.url
