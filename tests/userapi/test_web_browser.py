"""The web view in a real browser: Debian's headless Chromium driven by Selenium.

A project is advised through a real server against a local index; the analysis page is opened at
once, follows the analysis to its end without a reload, and then shows the locked stack, the
justifications and the dependency graph, whose packages answer a click with their
justifications. Each test leaves a screenshot in its tmp_path.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import chromium, click_graph_node
from tests.support.index_server import SAMPLE_DISTS
from tests.userapi.conftest import advise_body, request
from tests.userapi.test_web import EVIL, TOKEN, store_analysis

# signals 1.2 is yanked: pinned with == it is used, with a WARNING justification.
PACKAGES = {"webapp-framework": "*", "signals": "==1.2"}


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


def submit(server, index_url: str, headers: dict[str, str] | None = None) -> str:
    status, _, body = request(
        "POST", server.api_url + "/advise/python?force=true", advise_body(index_url, PACKAGES), headers=headers
    )
    assert status == 202, body
    return body["analysis_id"]


def wait_until_finished(driver, timeout: float = 90.0) -> None:
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "const s = document.getElementById('analysis');"
            "return s && s.dataset.finished === 'yes' && document.getElementById('state').textContent;"
        )
        == "finished"
    )
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("const g = document.getElementById('graph'); return g && g.dataset.ready;")
        == "yes"
    )


def details_text(driver) -> str:
    return driver.find_element(By.ID, "graph-details").text


def test_the_page_follows_the_analysis_and_explains_a_package_on_click(browser, package_index, start_server,
                                                                       tmp_path):
    index = package_index(SAMPLE_DISTS, delay=0.25)  # slow enough to see the analysis run
    server = start_server(index_url=index.url)
    analysis_id = submit(server, index.url)
    browser.get(f"{server.base_url}/web/advise/{analysis_id}")
    assert browser.find_element(By.ID, "analysis").get_attribute("data-finished") == "no"
    assert browser.find_element(By.ID, "state").text in ("waiting for a worker", "running")
    browser.execute_script("window.sameDocument = true;")
    wait_until_finished(browser)
    assert browser.execute_script("return window.sameDocument === true;"), "the page was reloaded"

    stack = browser.find_element(By.ID, "stack").text
    assert "webapp-framework 2.1 main default" in stack and "signals 1.2 main default" in stack
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#justification tbody tr")]
    assert any(row.startswith("WARNING signals") and "yanked" in row for row in rows), rows
    assert "Resolved" in browser.find_element(By.ID, "stack-info").text
    assert browser.find_element(By.ID, "rule-set").text
    assert browser.find_element(By.ID, "log").text.strip()

    classes = browser.execute_script(
        "const names = {}; window.thamosGraph.nodes().forEach(n => { names[n.data('info').name] = n.classes(); });"
        "return names;"
    )
    assert "direct" in classes["webapp-framework"] and "warning" in classes["signals"]
    assert "transitive" in classes["templating"]
    click_graph_node(browser, "signals")
    WebDriverWait(browser, 10).until(lambda d: "signals 1.2" in details_text(d))
    assert "yanked" in details_text(browser) and "Required by (1)" in details_text(browser)
    # The keyboard way to the same panel: the package list.
    Select(browser.find_element(By.ID, "graph-package")).select_by_visible_text("templating")
    WebDriverWait(browser, 10).until(lambda d: "templating 3.0" in details_text(d))
    WebDriverWait(browser, 10).until(lambda d: not d.execute_script("return window.thamosGraph.animated();"))
    browser.execute_script("document.getElementById('graph-section').scrollIntoView();")
    shot = tmp_path / "analysis-page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_the_token_protected_view_shows_nothing_before_the_login(browser, start_server, sample_index, tmp_path):
    server = start_server("--token", TOKEN, index_url=sample_index.url)
    analysis_id = submit(server, sample_index.url, headers={"Authorization": f"Bearer {TOKEN}"})
    browser.get(f"{server.base_url}/web/advise/{analysis_id}")
    assert "/web/login" in browser.current_url
    assert not browser.find_elements(By.ID, "analysis") and "webapp-framework" not in browser.page_source
    browser.find_element(By.ID, "token").send_keys("not-the-token\n")
    # The form posts and a new page loads: wait for it rather than read the old one.
    refused = WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "login-error"))
    assert "not valid" in refused[0].text
    browser.find_element(By.ID, "token").send_keys(TOKEN + "\n")
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith(f"/web/advise/{analysis_id}"))
    wait_until_finished(browser)
    cookie = browser.get_cookie("thamos_web")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
    assert "thamos_web" not in browser.execute_script("return document.cookie;")
    click_graph_node(browser, "webapp-framework")
    WebDriverWait(browser, 10).until(lambda d: "webapp-framework 2.1" in details_text(d))
    browser.save_screenshot(str(tmp_path / "token-analysis-page.png"))
    browser.find_element(By.CSS_SELECTOR, "form[action='/web/logout'] button").click()
    WebDriverWait(browser, 10).until(lambda d: "/web/login" in d.current_url)
    assert browser.get_cookie("thamos_web") is None
    browser.get(f"{server.base_url}/web/")
    assert "/web/login" in browser.current_url


def test_markup_in_a_justification_is_text_on_a_phone_too(browser, start_server, tmp_path):
    data_dir = tmp_path / "data-evil"
    justification = [{"type": "ERROR", "message": f"bad {EVIL}", "link": "", "package_name": "first"}]
    analysis_id = store_analysis(data_dir, justification, ["first", "second"])
    server = start_server(data_dir=data_dir)
    browser.set_window_size(390, 844)
    browser.get(f"{server.base_url}/web/advise/{analysis_id}")
    wait_until_finished(browser)
    assert f"bad {EVIL}" in browser.find_element(By.ID, "justification").text
    click_graph_node(browser, "first")
    WebDriverWait(browser, 10).until(lambda d: f"bad {EVIL}" in details_text(d))
    assert browser.title != "owned"
    assert "error" in browser.execute_script("return window.thamosGraph.nodes()[0].classes();")
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth;")
    assert overflow <= 1, f"the page is {overflow}px wider than a phone"
    browser.save_screenshot(str(tmp_path / "phone.png"))
