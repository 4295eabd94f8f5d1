# The Python reference of the bit-for-bit tests: the test writes the module's
# parameters and the call's arrays to files (C order, by aperm: a route of
# its own, not the package's), reference.py runs the same call with Python
# crnn in a separate process, and its results come back the same way.

python_exe <- function() reticulate::py_config()$python

dims_of <- function(a) if (is.null(dim(a))) length(a) else dim(a)

write_c_order <- function(dir, name, a) {
  d <- dims_of(a)
  v <- if (length(d) > 1) aperm(a, rev(seq_along(d))) else a
  writeBin(as.double(v), file.path(dir, paste0(name, ".bin")), size = 8, endian = "little")
  d
}

read_c_order <- function(dir, name, d) {
  v <- readBin(file.path(dir, paste0(name, ".bin")), "double", n = prod(d), size = 8,
               endian = "little")
  if (length(d) > 1) aperm(array(v, rev(d)), rev(seq_along(d))) else array(v, d)
}

py_literal <- function(x) {
  if (is.null(x)) return("None")
  if (is.list(x)) {
    items <- vapply(x, py_literal, "")
    if (!is.null(names(x))) {
      return(paste0("{", paste0("\"", names(x), "\": ", items, collapse = ", "), "}"))
    }
    return(paste0("[", paste(items, collapse = ", "), "]"))
  }
  if (length(x) != 1) return(py_literal(as.list(x)))
  if (is.logical(x)) return(if (x) "True" else "False")
  if (is.character(x)) return(paste0("\"", x, "\""))
  format(x, digits = 17)
}

# torch's name of an R torch parameter name (layers from 0)
torch_name <- function(n) {
  m <- regmatches(n, regexec("^(.*_l)([0-9]+)(.*)$", n))[[1]]
  if (length(m) == 0) n else paste0(m[2], as.integer(m[3]) - 1L, m[4])
}

# Run reference.py: `params` (R names) and `arrays` written, `spec` extra
# entries; returns the named list of its results.
run_reference <- function(kind, kwargs, params = list(), arrays = list(), spec = list(),
                          dir = tempfile("crnn-ref-")) {
  dir.create(dir, showWarnings = FALSE)
  shapes <- list()
  for (n in names(params)) {
    key <- paste0("param.", torch_name(n))
    shapes[[key]] <- as.list(write_c_order(dir, key, params[[n]]))
  }
  for (n in names(arrays)) shapes[[n]] <- as.list(write_c_order(dir, n, arrays[[n]]))
  spec <- c(list(kind = kind, kwargs = kwargs, arrays = if (length(shapes)) shapes else
    structure(list(), names = character())), spec)
  writeLines(py_literal(spec), file.path(dir, "spec.py"))
  out <- suppressWarnings(system2(python_exe(), c(shQuote(test_path("reference.py")),
                                                  shQuote(dir)), stdout = TRUE, stderr = TRUE))
  if (!is.null(attr(out, "status"))) stop(paste(out, collapse = "\n"))
  res <- list()
  for (line in readLines(file.path(dir, "result.txt"))) {
    f <- strsplit(line, " ")[[1]]
    res[[f[1]]] <- read_c_order(dir, f[1], as.integer(f[-1]))
  }
  res
}

# random arrays, and a module's parameters set to random values
rand <- function(...) array(rnorm(prod(c(...))), c(...))

randomize <- function(module) {
  sd <- module$state_dict()
  sd <- lapply(sd, function(p) array(runif(length(p), -0.5, 0.5), dims_of(p)))
  module$load_state_dict(sd)
  sd
}

bits <- function(a, b) identical(a, b, num.eq = FALSE)
