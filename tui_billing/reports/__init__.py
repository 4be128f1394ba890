"""Headless reports (never imports Textual). On this branch: the printed receipt only."""
