"""feedpub: article files in; feeds, a web archive and a newsletter out."""

__version__ = "0.1.0"
