"""The examples in jaxbias's docstrings run and print what they claim."""

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import jaxbias

def _has_examples(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    with open(spec.origin) as f:
        return ">>>" in f.read()


MODULES = sorted(m.name for m in pkgutil.walk_packages(jaxbias.__path__, "jaxbias.") if _has_examples(m.name))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0
