"""The library's version, kept in the lowest layer so that every module can record it."""

__version__ = "0.1.0"
"""The version of the installed jaxbias (PEP 440); results files record it."""
