"""The students' helpers say the shapes of their arrays, as CS231n's layers do: every array or
tensor a public helper takes has a line ``name: array of shape (...)`` in its docstring, and
one it returns a line ``Returns ...`` that gives the shape. Arrays are the parameters and
returns annotated with ``np.ndarray``, a tensor type, or a container of them."""

import importlib
import inspect
import re

import pytest

MODULES = ("conv_fast", "signs", "yolo", "faces", "facenet", "darknet", "images", "plots",
           "data", "settings")
ARRAY_TYPES = re.compile(r"\b(ndarray|Tensor|KerasTensor)\b")


def public_helpers():
    """(qualified name, function) of every public function and method the modules define."""
    for name in MODULES:
        module = importlib.import_module(f"utils.{name}")
        for attribute, value in vars(module).items():
            if attribute.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(value):
                yield f"utils.{name}.{attribute}", value
            elif inspect.isclass(value):
                for method, function in vars(value).items():
                    if inspect.isfunction(function) and not method.startswith("_"):
                        yield f"utils.{name}.{attribute}.{method}", function


def missing_shape_lines(function) -> list[str]:
    """The array parameters (and "return") of ``function`` whose shape its docstring omits."""
    doc = inspect.getdoc(function) or ""
    signature = inspect.signature(function)
    missing = []
    for name, parameter in signature.parameters.items():
        if ARRAY_TYPES.search(str(parameter.annotation)) and not re.search(
                rf"^(\w+, )*{name}(, \w+)*: .*\bshape\b", doc, re.M):
            missing.append(name)
    returns = re.search(r"^Returns\b(.*\n)*?(\n|\Z)", doc + "\n", re.M)
    if ARRAY_TYPES.search(str(signature.return_annotation)) and not (
            returns and "shape" in returns.group(0)):
        missing.append("return")
    return missing


def test_the_rule_finds_a_missing_shape_line():
    def helper(x: "np.ndarray", n: int) -> "np.ndarray":  # noqa: F821
        """Something.

        x: array of shape (m, n)
        """
    assert missing_shape_lines(helper) == ["return"]


HELPERS = list(public_helpers())


@pytest.mark.parametrize("name, function", HELPERS, ids=[name for name, _ in HELPERS])
def test_every_array_of_a_helper_has_its_shape_in_the_docstring(name, function):
    missing = missing_shape_lines(function)
    assert not missing, (f"{name}'s docstring gives no shape for {', '.join(missing)}: add a "
                         "line 'name: array of shape (...)' (or 'Returns ...: array of shape')")
