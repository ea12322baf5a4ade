#!/usr/bin/env python3
"""Drives the notifier's dashboard in headless Chromium (Selenium, Debian's chromium-driver).

  dashboard.py BASE_URL TOKEN ERROR_CODE

1. Without a token the dashboard refuses: it answers with the sign-in form, not the history.
2. With the token it shows the open failure with ERROR_CODE.
3. The failure's page has a Retry button; pressing it replays the command and says where to.
Prints one line per step; exits 1 at the first step that does not hold.
"""
import os
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def fail(step, driver):
    print(f"FAILED {step}; page: {driver.current_url}\n{driver.page_source[:2000]}")
    driver.quit()
    sys.exit(1)


def main(base, token, code):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 20)

    driver.get(f"{base}/dashboard")
    if not driver.find_elements(By.ID, "login") or driver.find_elements(By.ID, "failures"):
        fail("without a token the dashboard shows the sign-in form only", driver)
    print("refused without a token")

    driver.find_element(By.ID, "token").send_keys("not-the-token")
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "login-error")))
    if driver.find_elements(By.ID, "failures"):
        fail("a wrong token is refused", driver)
    print("refused a wrong token")

    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "failures")))
    rows = driver.find_elements(By.CSS_SELECTOR, f'#failures tr.failure[data-code="{code}"]')
    if not rows:
        fail(f"the dashboard shows a failure with {code}", driver)
    print(f"shows the failure {code}")

    rows[0].find_element(By.CSS_SELECTOR, "a").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "retry")))
    if driver.find_element(By.ID, "error-code").text != code:
        fail("the failure page shows the provider's code", driver)
    driver.find_element(By.ID, "retry").click()
    notice = wait.until(expected_conditions.presence_of_element_located((By.ID, "notice")))
    if "Replayed to" not in notice.text:
        fail("the retry says where the command went", driver)
    print(notice.text)
    driver.quit()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    # Chromium leaves a directory with its singleton socket under TMPDIR: this one goes afterwards.
    with tempfile.TemporaryDirectory(prefix="dashboard-", ignore_cleanup_errors=True) as scratch:
        os.environ["TMPDIR"] = scratch
        main(*sys.argv[1:])
