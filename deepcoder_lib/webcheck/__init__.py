"""Check a model-written Flask app or HTML+JavaScript page by calling it as a user would, the app in the sandbox.

The task states the interface (route, parameter names, where the answer goes) and the check holds
the app to it, for two or more inputs whose answers differ, so neither a guessed name nor a
hard-coded answer decides the verdict. The app runs in ONE ``sandbox.run_code`` for the whole
check, serving real HTTP on a Unix socket the checker created and handed in (the sandbox still has
no network); ``app.run()`` is skipped. The checker, outside, sends the requests and judges the
answers it received: what the app answered is all that counts, so nothing the app prints or forges
in its own process can pass for a verdict. ``check_flask_app`` calls ``GET route?name=value`` once
per input; each answer must be a JSON object whose ``key`` holds one number. ``check_html_page``
needs the page at ``route`` served as ``text/html`` and, where Chromium is installed, opens it
headless, types each input into the ``<input>`` of that id, clicks the first button and reads the
one number a person SEES in the element ``output_id`` (rendered text: hidden, transparent,
zero-sized or off-page text does not count; two elements with that id fail). The page's requests to
its own origin go to the app; every other request is aborted, and Chromium itself runs in a network
namespace of its own (bubblewrap) with nothing but an empty loopback, so WebRTC and WebSockets
reach nothing. The whole check has one time budget; an app that loops, a page that never settles
or a browser that stalls ends as a failing ``WebCheck`` with the reason, never as an exception.
Without a browser an HTML answer is *unchecked*, not passed. ``evaluation.py`` holds the task suite.

This file only re-exports: ``checks`` (the verdicts), ``app`` (the answer's app serving from the
sandbox, and the client), ``browser`` (Chromium: find it, isolate it, read what a person sees).
"""
from .browser import CHROMIUM_ARGS, ORIGIN, chromium_available, find_chromium, html_checks_status
from .checks import WebCheck, check_flask_app, check_html_page, numbers_in, one_number

__all__ = ["CHROMIUM_ARGS", "ORIGIN", "WebCheck", "check_flask_app", "check_html_page", "chromium_available",
           "find_chromium", "html_checks_status", "numbers_in", "one_number"]
