#' Save and load modules and state dicts, in crnn's files
#'
#' `crnn_save(obj, path)` writes a module (its state dict), a state dict (a
#' named list of arrays) or a named list nesting them with numbers and
#' strings, as Python's `crnn.save` does: the same `.npz` or
#' `.safetensors` file, with torch's parameter names inside (`weight_ih_l0`).
#' `crnn_load(path)` reads such a file — written from R or from Python — or
#' a PyTorch `.pt` / `.pth` checkpoint, and returns its state dict with R
#' torch's names (`weight_ih_l1`), for `$load_state_dict()`.
#'
#' @param obj A crnn module, a named list of arrays, or a named list of those.
#' @param path The file: `.npz` or `.safetensors` (`crnn_load`: also `.pt`,
#'   `.pth`).
#' @return `crnn_save`: `path`, invisibly. `crnn_load`: a named list.
#' @examples
#' if (crnn_is_available()) {
#'   gru <- nn_gru(4, 8)
#'   path <- tempfile(fileext = ".npz")
#'   crnn_save(gru, path)
#'   other <- nn_gru(4, 8)
#'   other$load_state_dict(crnn_load(path))
#'   identical(other$state_dict(), gru$state_dict())   # TRUE
#' }
#' @export
crnn_save <- function(obj, path) {
  path <- check_path(path)
  if (inherits(obj, "crnn_module")) {
    pycall("save", module_self(obj)$py, TRUE, path)
  } else {
    if (!is.list(obj) || is.null(names(obj))) {
      crnn_abort(sprintf("obj: expected a crnn module or a named list, got %s",
                         class(obj)[1]), "crnn_type_error")
    }
    pycall("save", to_py(unmodule(obj), "obj"), FALSE, path)
  }
  invisible(path)
}

# modules nested in a list: their state dicts
unmodule <- function(x) {
  if (inherits(x, "crnn_module")) return(x$state_dict())
  if (is.list(x) && !is.object(x)) return(lapply(x, unmodule))
  x
}

#' @rdname crnn_save
#' @export
crnn_load <- function(path) {
  from_py(pycall("load", check_path(path)))
}

check_path <- function(path) {
  if (!is.character(path) || length(path) != 1 || is.na(path)) {
    crnn_abort("path: expected a file name (a character string)", "crnn_type_error")
  }
  path.expand(path)
}

#' Quantized weights for serving: int8 or bfloat16
#'
#' A new inference-only module of the same kind as `module`, with its
#' weight matrices stored as int8 (one scale per row) or bfloat16, called
#' exactly like `module` (float32 arithmetic, float32 states); see
#' Python's `crnn.quantize`. Its state dict holds the int8 weights as
#' integer arrays with `<name>_scale` rows; `$train()` and `$backward()` are
#' refused.
#'
#' @param module A float module ([nn_rnn()], [nn_lstm()], [nn_gru()] or a
#'   cell); it is left untouched.
#' @param dtype `"int8"` (default) or `"bfloat16"`.
#' @return The quantized module.
#' @examples
#' if (crnn_is_available()) {
#'   lstm <- nn_lstm(8, 32)
#'   q <- crnn_quantize(lstm)
#'   out <- q(array(rnorm(5 * 2 * 8), c(5, 2, 8)))
#' }
#' @export
crnn_quantize <- function(module, dtype = "int8") {
  if (!inherits(module, "crnn_module")) {
    crnn_abort(sprintf("module: expected a crnn module, got %s", class(module)[1]),
               "crnn_type_error")
  }
  if (!is.character(dtype) || length(dtype) != 1 || !dtype %in% c("int8", "bfloat16")) {
    crnn_abort(sprintf("dtype: expected \"int8\" or \"bfloat16\", got %s",
                       paste(deparse(dtype), collapse = " ")), "crnn_value_error")
  }
  self <- module_self(module)
  new_module(pycall("quantize", self$py, dtype), self$kind)
}

#' Seed crnn's random numbers
#'
#' Sets the seed of the initialisation and the dropout masks of modules
#' created afterwards without their own `seed` (Python's
#' `crnn.manual_seed`), as R torch's `torch_manual_seed` does.
#'
#' @param seed A whole number.
#' @return `NULL`, invisibly.
#' @export
crnn_manual_seed <- function(seed) {
  pycall("manual_seed", as_count(seed, "seed", zero = TRUE))
  invisible(NULL)
}
