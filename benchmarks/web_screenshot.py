"""Regenerate docs/analysis-page.png, the README's picture of an analysis page: the b-web input
advised through a local server against the configured index, its page shown in headless Chromium
with the graph drawn and one package's justifications open.

    python benchmarks/web_screenshot.py [--input ../shared/bench/inputs/b-web] [--package django]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_view import INPUTS, REPO_ROOT, advise, chromium, open_analysis, server  # noqa: E402


def _page_top(driver) -> bytes:
    """A PNG of the page from its top to the end of the graph (beyond the window if need be)."""
    import base64

    width, bottom = driver.execute_script(
        "const area = document.querySelector('.graph-area').getBoundingClientRect();"
        "return [document.documentElement.clientWidth, Math.ceil(area.bottom + window.scrollY + 16)];"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": width, "height": bottom, "scale": 1}},
    )
    return base64.b64decode(shot["data"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=INPUTS / "b-web")
    parser.add_argument("--package", default="django", help="the package whose justifications are shown")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "analysis-page.png")
    parser.add_argument("--cache-dir", type=Path, help="the adviser cache to reuse (default: a fresh one)")
    args = parser.parse_args(argv)
    from selenium.webdriver.support.select import Select

    with server(args.cache_dir) as base:
        analysis_id = advise(base, args.input / "Pipfile")
        with chromium(1280, 1100) as driver:
            open_analysis(driver, f"{base}/web/advise/{analysis_id}")
            chooser = driver.find_element("id", "graph-package")
            Select(chooser).select_by_visible_text(args.package)
            # The whole graph, unfaded, with the package's panel open; the page from its title on.
            driver.execute_script(
                "const cy = window.thamosGraph; cy.stop(); cy.elements().removeClass('faded');"
                " cy.fit(undefined, 20); window.scrollTo(0, 0); document.activeElement.blur();"
            )
            time.sleep(0.5)  # the next frames paint the fitted graph
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(_page_top(driver))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) from analysis of {args.input.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
