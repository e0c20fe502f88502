"""``python -m wikiart_core ...``: see :mod:`wikiart_core.cli`."""
from .cli import main

raise SystemExit(main())
