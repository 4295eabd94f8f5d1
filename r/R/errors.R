#' crnn's conditions
#'
#' Every error of the package is an R condition of class `crnn_error`
#' (and `error`, `condition`), with a subclass for its kind:
#'
#' - `crnn_shape_error`: an array of the wrong shape (`crnn_state_error`, a
#'   subclass, for an initial state or its gradient);
#' - `crnn_type_error`: a value of the wrong type (an array that is not
#'   numeric, a character, a list where an array is expected);
#' - `crnn_na_error`: R's missing value `NA` in an array;
#' - `crnn_value_error`: an argument out of its range (from crnn's checks);
#' - `crnn_key_error`: a state dict's names do not fit the module;
#' - `crnn_runtime_error`: misuse, such as `$backward()` without a forward
#'   in training mode;
#' - `crnn_file_error`: a file that cannot be read;
#' - `crnn_not_available`: the Python package crnn cannot be imported.
#'
#' The message names the argument and gives the expected and the given
#' shape or value. Catch them with `tryCatch(..., crnn_error = function(e) ...)`.
#'
#' @name crnn_error
NULL

crnn_abort <- function(message, class = NULL) {
  stop(structure(class = unique(c(class, "crnn_error", "error", "condition")),
                 list(message = message, call = NULL)))
}
