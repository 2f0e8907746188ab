"""Measures of one network's function, written for one network and vmapped by the engine."""

from jaxbias.measures.guessing import GuessingStats, class_fractions, guessing_stats

__all__ = [
    "class_fractions",
    "guessing_stats",
    "GuessingStats",
]
