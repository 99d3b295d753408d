"""The sample course's site in a real headless Chromium, opened from disk as a student would."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and DRIVER, ("the browser test needs Debian's chromium and chromium-driver: "
                                 "apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_a_student_opens_the_site_from_disk(built_sample, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    course, _ = built_sample
    site = course / "build" / "site"
    browser.get((site / "index.html").as_uri())
    assert "Sample course" in browser.title

    browser.find_element(By.PARTIAL_LINK_TEXT, "Figures and errors").click()
    WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("02_plots.html"))
    image = browser.find_element(By.CSS_SELECTOR, "figure img")
    browser.execute_script("arguments[0].scrollIntoView()", image)
    WebDriverWait(browser, 20).until(lambda b: b.execute_script("return arguments[0].complete", image))
    assert browser.execute_script("return arguments[0].naturalWidth", image) > 0

    browser.find_element(By.CSS_SELECTOR, ".pager .prev").click()
    WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("01_basics.html"))
    formula = browser.find_element(By.CSS_SELECTOR, "math[display=block]")
    # Chromium lays out MathML itself: the element's display is a math one and it takes up space.
    assert "math" in browser.execute_script("return getComputedStyle(arguments[0]).display", formula)
    box = browser.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.width, r.height]", formula)
    assert box[0] > 50 and box[1] > 20  # two rows of an aligned equation

    search = browser.find_element(By.ID, "search")
    search.send_keys("squared error")  # from the linear model section's prose
    results = WebDriverWait(browser, 20).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#search-results a"))
    assert results[0].get_attribute("href").endswith("01_basics.html#model")
    results[0].click()
    WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("#model"))

    shots = course / "build" / "screenshots"
    shots.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(shots / "lecture.png"))
    assert (shots / "lecture.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    search = browser.find_element(By.ID, "search")
    search.clear()
    search.send_keys("zzqxj")
    WebDriverWait(browser, 20).until(
        lambda b: "Nothing found" in b.find_element(By.ID, "search-results").text)


def test_dark_theme_toggle_is_remembered(built_sample, browser):
    from selenium.webdriver.common.by import By

    site = built_sample[0] / "build" / "site"
    browser.get((site / "index.html").as_uri())
    light = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    browser.find_element(By.ID, "theme-toggle").click()
    dark = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert dark != light
    browser.get((site / "report.html").as_uri())
    assert browser.execute_script("return document.documentElement.dataset.theme") in ("dark", "light")
    assert browser.execute_script("return getComputedStyle(document.body).backgroundColor") == dark
