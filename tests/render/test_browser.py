"""The sample course's site in a real headless Chromium, opened from disk as a student would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def chromium(profile: Path, page_load: str = "normal"):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and DRIVER, ("the browser test needs Debian's chromium and chromium-driver: "
                                 "apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.page_load_strategy = page_load
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--user-data-dir={profile}", "--window-size=1280,900",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "profile")
    yield driver
    driver.quit()


@pytest.fixture
def presenter(tmp_path):
    """A browser that does not wait for pages to finish loading: reveal.js writes its speaker view into a
    window of its own that never does, and the driver would wait for it for ever."""
    driver = chromium(tmp_path / "profile", page_load="none")
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


def test_an_instructor_steps_through_a_deck_with_the_keyboard(built_sample, presenter):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    course = built_sample[0]
    slides = course / "build" / "site" / "slides"

    def present() -> str:
        return presenter.execute_script("return Reveal.getCurrentSlide().id")

    def press(key, expected: str) -> None:
        presenter.find_element(By.TAG_NAME, "body").send_keys(key)
        WebDriverWait(presenter, 20).until(lambda b: present() == expected)

    presenter.get((slides / "01_basics.html").as_uri())  # from disk, as a deck opened from a USB stick
    WebDriverWait(presenter, 30).until(lambda b: b.execute_script("return !!window.Reveal && Reveal.isReady()"))
    assert present() == "lecture-title"
    for expected in ("lecture-setup", "tensors", "model"):
        press(Keys.ARROW_RIGHT, expected)
    formula = presenter.find_element(By.CSS_SELECTOR, "section.present .slide-body math[display=block]")
    assert "math" in presenter.execute_script("return getComputedStyle(arguments[0]).display", formula)
    box = presenter.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.width, r.height]", formula)
    assert box[0] > 50 and box[1] > 20
    press(Keys.ARROW_LEFT, "tensors")
    press(Keys.SPACE, "model")

    # S opens the speaker view: a window that shows the current slide's notes.
    presenter.find_element(By.TAG_NAME, "body").send_keys("s")
    WebDriverWait(presenter, 20).until(lambda b: len(b.window_handles) == 2)
    deck = presenter.current_window_handle
    presenter.switch_to.window(next(h for h in presenter.window_handles if h != deck))
    WebDriverWait(presenter, 30).until(lambda b: "mean squared error" in b.find_element(By.TAG_NAME, "body").text)
    presenter.close()
    presenter.switch_to.window(deck)

    presenter.get((slides / "02_plots.html").as_uri())
    WebDriverWait(presenter, 30).until(lambda b: b.execute_script("return !!window.Reveal && Reveal.isReady()"))
    for expected in ("lecture-setup", "figure", "figure-2"):
        press(Keys.ARROW_RIGHT, expected)
    image = presenter.find_element(By.CSS_SELECTOR, "section.present figure img")
    WebDriverWait(presenter, 20).until(lambda b: b.execute_script("return arguments[0].complete", image))
    drawn = presenter.execute_script(
        "var i = arguments[0], r = i.getBoundingClientRect(), s = document.querySelector('.reveal .slides')"
        ".getBoundingClientRect(), b = i.closest('.slide-body').getBoundingClientRect(),"
        "k = Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight);"
        "return [i.naturalWidth, i.naturalHeight * k / s.height, r.bottom - b.bottom, r.right - b.right]", image)
    assert drawn[0] > 0 and drawn[1] > 0.7  # the figure fills most of the slide's height...
    assert drawn[2] <= 1 and drawn[3] <= 1  # ...and all of it is on the slide

    shots = course / "build" / "screenshots"
    shots.mkdir(exist_ok=True)
    assert presenter.save_screenshot(str(shots / "deck.png"))
    assert (shots / "deck.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
