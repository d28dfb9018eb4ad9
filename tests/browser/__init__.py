"""The real-browser suite (issue 9): JupyterLab in headless Chromium, driven by Playwright.

A package, so that its conftest and helpers do not shadow the modules of tests/ (whose test
files import from ``conftest``).
"""
