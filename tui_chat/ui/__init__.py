"""The Textual half of unify-tui: the App, its collaborators, widgets, screens and stylesheets.

Nothing outside this package imports Textual (tests/test_layering.py checks it); the command
line imports ``tui_chat.ui.app`` only once it knows the full-screen app is wanted.
"""
