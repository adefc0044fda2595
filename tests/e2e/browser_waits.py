"""Waits the browser tests share beyond Selenium's own expected conditions."""
from __future__ import annotations

from selenium.common.exceptions import WebDriverException


def left_the_page(element):
    """A wait condition: `element`'s page was replaced (the browser navigated after a click).

    Selenium's `staleness_of` only counts a StaleElementReferenceException; while the old document
    is being torn down, chromedriver may instead answer "unknown error: unhandled inspector error:
    Node with given id does not belong to the document", which is the same fact, reported early."""

    def gone(_driver) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False

    return gone
