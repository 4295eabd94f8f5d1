"""What to install for an optional part of crnn, said the same way
everywhere: the packages themselves (crnn stays as it is), or the extra
from crnn's source checkout, which rebuilds crnn as well."""
from __future__ import annotations

# extra: the packages it brings, as pip takes them
EXTRAS = {"onnx": "onnx", "safetensors": "safetensors", "mpi": "mpi4py mpich",
          "dask": '"dask[array]" distributed', "demo": "matplotlib tqdm"}


def install_hint(extra: str) -> str:
    """``pip install PACKAGES (or ...)`` for the extra."""
    return (f'pip install {EXTRAS[extra]} (or pip install ".[{extra}]" in crnn\'s source '
            f"checkout, which also rebuilds crnn)")


def missing(what: str, extra: str, error: ImportError) -> ModuleNotFoundError:
    """The error for a part of crnn whose extra is not installed: what needs
    it, the missing module, and what to install."""
    name = getattr(error, "name", None) or EXTRAS[extra].split()[0]
    return ModuleNotFoundError(f"{what} needs the {name} package, which is not installed: "
                               f"{install_hint(extra)}", name=name)
