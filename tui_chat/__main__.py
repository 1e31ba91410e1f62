"""`python -m tui_chat` is the same as the `unify-tui` command."""

from tui_chat.cli import main

raise SystemExit(main())
