"""A headless Chromium driven by Selenium, for the web view's end-to-end tests and benchmarks.

The browser and its driver are Debian's (packages chromium and chromium-driver): nothing
downloads a browser build. Each browser gets a fresh profile directory and talks to nothing but
the local servers: background networking, component updates and sync are off.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("THAMOS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("THAMOS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


def missing_browser() -> str | None:
    """Why no browser can be started here ('' -> None when one can)."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            return f"{path} is missing: install the Debian package {package} (.ci/run does)"
    return None


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[object]:
    """A Selenium WebDriver on a fresh headless Chromium; closed and its profile removed after."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    problem = missing_browser()
    if problem:
        raise RuntimeError(problem)
    profile = Path(tempfile.mkdtemp(prefix="thamos-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    # The driver is given: Selenium must not look for (or fetch) one of its own.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def click_graph_node(driver: object, name: str) -> None:
    """Click the graph's node of package `name` where the page draws it (a real pointer click)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    # Bring the node to the middle of the picture, then click the pixel it is drawn at.
    offset = driver.execute_script(  # type: ignore[attr-defined]
        """
        const cy = window.thamosGraph;
        const node = cy.nodes().filter(n => n.data('info').name === arguments[0])[0];
        if (!node) { return null; }
        cy.zoom(1.2); cy.center(node);
        const p = node.renderedPosition();
        const box = cy.container().getBoundingClientRect();
        return [p.x - box.width / 2, p.y - box.height / 2];
        """,
        name,
    )
    if offset is None:
        raise AssertionError(f"the graph has no node {name!r}")
    holder = driver.find_element(By.ID, "graph")  # type: ignore[attr-defined]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", holder)  # type: ignore[attr-defined]
    ActionChains(driver).move_to_element_with_offset(holder, int(offset[0]), int(offset[1])).click().perform()
