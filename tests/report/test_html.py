"""The page helpers: untrusted text is escaped wherever it goes, and the page loads nothing."""

import re

import pytest

from codeagent.report.html import Html, esc, page, pre, table, tag
from codeagent.report.loop import wilson

EVIL = '</textarea></pre><script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


def test_text_is_escaped_in_every_helper_and_by_concatenation():
    # in a cell, a data attribute, an element, an attribute, a <pre>, and appended to markup
    markup = (table(["<th>"], [[EVIL, Html("<b>ours</b>")]], row_attrs=[{"data-task": EVIL}])
              + tag("p", EVIL, title=EVIL) + pre(EVIL) + EVIL)
    assert isinstance(markup, Html)
    assert "<script>" not in markup and "<img" not in markup and "</textarea>" not in markup
    assert markup.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 6
    assert "<b>ours</b>" in markup  # markup we built stays markup
    assert EVIL + Html("<i>") == esc(EVIL) + Html("<i>")  # text on the left is escaped too


def test_the_page_runs_only_its_own_script_and_loads_nothing():
    html = page(EVIL, EVIL, pre(EVIL))
    assert html.count("<script") == 1
    nonce = re.search(r"script-src 'nonce-([^']+)'", html).group(1)
    assert f'<script nonce="{nonce}">' in html
    assert "default-src 'none'" in html
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)


@pytest.mark.parametrize("k,n,low,high", [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0)])
def test_wilson_interval_matches_published_values(k, n, low, high):
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)
