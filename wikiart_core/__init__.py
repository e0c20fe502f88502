"""wikiart_core: the package behind the wikiart-lab notebooks."""
__version__ = "0.1.0"
