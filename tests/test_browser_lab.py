"""What a learner sees of the course's JupyterLab configuration (launch.py), in headless Chromium.

The memory indicator of jupyter-resource-usage sits in the status bar and shows a number once the kernel
runs: on an 8 GB laptop it is how a learner sees that six open notebooks are too many.
"""
from __future__ import annotations

import re

import pytest

from browser_utils import chromium_page, jupyterlab, open_notebook, require_browser, screenshot
from notebook_utils import copy_notebooks

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_status_bar_shows_memory(tmp_path):
    require_browser()
    copy_notebooks(tmp_path)
    with jupyterlab(tmp_path) as lab, chromium_page() as page:
        open_notebook(page, lab, "00_start_here.ipynb")
        indicator = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"Mem:\s*\d"))
        try:
            indicator.first.wait_for(state="visible", timeout=60_000)
        finally:
            screenshot(page, "lab_memory_indicator")
        text = indicator.first.inner_text()
        assert re.search(r"Mem:\s*[\d.]+\s*[KMG]i?B", text), text
