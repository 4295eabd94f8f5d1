# The way to Python: the bridge module, and values crossing as bytes.
#
# An R array crosses as list(array = <raw>, dim = <list of ints>, type =
# "double"): the bytes of R's own column-major vector, which the Python side
# reshapes in Fortran order, so that x[i, j, k] here is a[i-1, j-1, k-1]
# there. No NumPy array goes through reticulate's converters, so any NumPy
# version works.

.crnn <- new.env(parent = emptyenv())

# The bridge module (inst/python/crnn_r_bridge.py), imported once; a
# crnn_not_available error when the Python package crnn cannot be imported.
bridge <- function() {
  if (!is.null(.crnn$bridge)) return(.crnn$bridge)
  ok <- tryCatch(reticulate::py_module_available("crnn"), error = function(e) FALSE)
  if (!ok) {
    python <- tryCatch(reticulate::py_config()$python, error = function(e) NULL)
    reason <- tryCatch({
      reticulate::import("crnn")
      NULL
    }, error = function(e) strsplit(conditionMessage(e), "\n")[[1]][1])
    crnn_abort(paste0(
      "the Python package crnn is not importable",
      if (!is.null(python)) paste0(" from the Python at ", python) else "",
      if (!is.null(reason)) paste0(" (", reason, ")") else "",
      ". Install it into that Python (`pip install .` in crnn's source checkout, ",
      "or `pip install crnn-*.whl` from a wheel), or point reticulate at a Python that has it before ",
      "the first call: Sys.setenv(RETICULATE_PYTHON = \"/path/to/venv/bin/python\") ",
      "or reticulate::use_virtualenv(\"/path/to/venv\")."),
      "crnn_not_available")
  }
  path <- system.file("python", package = "crnn")
  .crnn$bridge <- reticulate::import_from_path("crnn_r_bridge", path = path,
                                               convert = TRUE)
  .crnn$bridge
}

#' Is the Python package crnn available?
#'
#' @return `TRUE` when reticulate's Python can import crnn.
#' @export
crnn_is_available <- function() {
  isTRUE(tryCatch(reticulate::py_module_available("crnn"), error = function(e) FALSE))
}

# Call a bridge function; its result, or its Python exception as an R
# condition of class crnn_error.
pycall <- function(fun, ...) {
  b <- bridge()
  res <- b[[fun]](...)
  if (!is.null(res[["error"]])) {
    kinds <- unlist(res[["error"]])
    class <- c(
      if ("ParameterShapeError" %in% kinds) "crnn_shape_error",
      if ("KeyError" %in% kinds) "crnn_key_error",
      if ("ValueError" %in% kinds) "crnn_value_error",
      if ("TypeError" %in% kinds) "crnn_type_error",
      if ("RuntimeError" %in% kinds) "crnn_runtime_error",
      if (any(c("FileNotFoundError", "OSError") %in% kinds)) "crnn_file_error")
    crnn_abort(res[["message"]], class)
  }
  res[["value"]]
}

fmt_shape <- function(d) paste0("(", paste(d, collapse = ", "), ")")

shape_of <- function(x) if (is.null(dim(x))) length(x) else dim(x)

# An R value for Python: numeric arrays and vectors (double or integer,
# a torch_tensor through as.array) as bytes; lists as lists (unnamed) or
# dicts (named); packed batches; NULL. `name` is the argument, for errors.
to_py <- function(x, name) {
  if (is.null(x)) return(NULL)
  if (inherits(x, "PackedSequence")) {
    idx <- function(v, what) if (is.null(v)) NULL else to_py(v, paste0(name, "$", what))
    return(list(packed = list(
      data = to_py(x$data, paste0(name, "$data")),
      batch_sizes = to_py(x$batch_sizes, paste0(name, "$batch_sizes")),
      sorted_indices = idx(x$sorted_indices, "sorted_indices"),
      unsorted_indices = idx(x$unsorted_indices, "unsorted_indices"))))
  }
  if (is.list(x) && !is.object(x)) {
    if (!is.null(names(x))) {
      if (any(names(x) == "")) {
        crnn_abort(sprintf("%s: expected a list whose elements all have names, or none", name),
                   "crnn_type_error")
      }
      return(sapply(names(x), function(n) to_py(x[[n]], paste0(name, "$", n)),
                    simplify = FALSE, USE.NAMES = TRUE))
    }
    return(lapply(seq_along(x), function(i) to_py(x[[i]], sprintf("%s[[%d]]", name, i))))
  }
  array_to_py(x, name)
}

array_to_py <- function(x, name) {
  x <- as_plain_array(x, name)
  d <- shape_of(x)
  list(array = writeBin(as.double(x), raw(), size = 8L, endian = "little"),
       dim = as.list(as.integer(d)), type = "double")
}

# x as a plain double or integer array/vector, or an R condition: the type,
# then R's missing value (NA) are refused. NaN, as in crnn, goes through.
as_plain_array <- function(x, name) {
  if (inherits(x, "torch_tensor")) {
    x <- as.array(x)
  }
  if (!(is.double(x) || is.integer(x)) || is.object(x)) {
    what <- if (is.object(x)) paste(class(x), collapse = "/") else typeof(x)
    crnn_abort(sprintf("%s: expected a numeric (double or integer) array, got %s",
                       name, what), "crnn_type_error")
  }
  missing <- if (is.integer(x)) is.na(x) else is.na(x) & !is.nan(x)
  if (any(missing)) {
    where <- which(missing)[1]
    at <- if (is.null(dim(x))) where else
      paste(arrayInd(where, dim(x)), collapse = ", ")
    crnn_abort(sprintf("%s: expected no missing values (NA), got %d, the first at [%s] of shape %s",
                       name, sum(missing), at, fmt_shape(shape_of(x))), "crnn_na_error")
  }
  x
}

# A value from Python: arrays (as doubles or integers, with their dims),
# packed batches, lists.
from_py <- function(v) {
  if (is.list(v)) {
    nm <- names(v)
    if (!is.null(nm) && setequal(nm, c("array", "dim", "type")) && is.raw(v[["array"]])) {
      integer <- identical(v[["type"]], "integer")
      size <- if (integer) 4L else 8L
      x <- readBin(v[["array"]], what = if (integer) "integer" else "double",
                   n = length(v[["array"]]) %/% size, size = size, endian = "little")
      d <- as.integer(unlist(v[["dim"]]))
      if (length(d) > 0) dim(x) <- d
      return(x)
    }
    if (identical(nm, "packed")) {
      p <- lapply(v[["packed"]], from_py)
      return(new_packed_sequence(p$data, p$batch_sizes, p$sorted_indices,
                                 p$unsorted_indices))
    }
    out <- lapply(v, from_py)
    return(out)
  }
  v
}
