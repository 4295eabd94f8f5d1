# A crnn module in R: a function (the forward call) of class
# c(<constructor>, "crnn_module", "nn_module"), whose `$` gives R torch's
# fields and methods. Its environment holds `self`: the Python module and
# the settings read from it.

new_module <- function(py, kind) {
  self <- new.env(parent = emptyenv())
  self$py <- py
  self$kind <- kind
  self$cell <- grepl("_cell$", kind)
  self$attrs <- pycall("attributes", py)
  module <- function(input, hx = NULL) module_forward(self, input, hx)
  class(module) <- c(kind, "crnn_module", "nn_module")
  module
}

module_self <- function(x) environment(unclass(x))$self

# R torch's fields and methods of a module.
module_methods <- c("forward", "backward", "train", "eval", "zero_grad", "parameters",
                    "named_parameters", "gradients", "state_dict", "load_state_dict",
                    "training", "py")

#' @export
`$.crnn_module` <- function(x, name) {
  self <- module_self(x)
  switch(name,
    forward = function(input, hx = NULL) module_forward(self, input, hx),
    backward = if (self$cell) {
      function(grad) module_backward(self, list(to_py(grad, "grad")))
    } else {
      function(grad_output, grad_h_n = NULL) {
        module_backward(self, list(to_py(grad_output, "grad_output"),
                                   to_py(grad_h_n, "grad_h_n")))
      }
    },
    train = function(mode = TRUE) {
      self$attrs$training <- pycall("train", self$py, as_flag(mode, "mode"))
      invisible(x)
    },
    eval = function() {
      self$attrs$training <- pycall("train", self$py, FALSE)
      invisible(x)
    },
    zero_grad = function() {
      pycall("zero_grad", self$py)
      invisible(x)
    },
    parameters = from_py(pycall("named_parameters", self$py, "data")),
    named_parameters = function() from_py(pycall("named_parameters", self$py, "data")),
    gradients = from_py(pycall("named_parameters", self$py, "grad")),
    state_dict = function() from_py(pycall("state_dict", self$py)),
    load_state_dict = function(state_dict, strict = TRUE) {
      if (!is.list(state_dict) || is.null(names(state_dict))) {
        crnn_abort(sprintf("state_dict: expected a named list of arrays, got %s",
                           class(state_dict)[1]), "crnn_type_error")
      }
      pycall("load_state_dict", self$py, to_py(state_dict, "state_dict"),
             as_flag(strict, "strict"))
      invisible(x)
    },
    py = self$py,
    {
      if (name %in% names(self$attrs) && name != "repr") return(self$attrs[[name]])
      params <- from_py(pycall("named_parameters", self$py, "data"))
      params[[name]]   # a parameter by name, else NULL as for any R list
    })
}

#' @export
`[[.crnn_module` <- function(x, i, ...) `$.crnn_module`(x, i)

#' @export
`$<-.crnn_module` <- function(x, name, value) {
  self <- module_self(x)
  params <- pycall("named_parameters", self$py, "data")
  if (!name %in% names(params)) {
    crnn_abort(sprintf("%s: not a parameter of this %s (its parameters: %s)", name,
                       self$kind, paste(names(params), collapse = ", ")), "crnn_key_error")
  }
  pycall("load_state_dict", self$py, to_py(stats::setNames(list(value), name), name), FALSE)
  x
}

#' @export
names.crnn_module <- function(x) {
  self <- module_self(x)
  c(module_methods, setdiff(names(self$attrs), "repr"),
    names(pycall("named_parameters", self$py, "data")))
}

#' @export
print.crnn_module <- function(x, ...) {
  self <- module_self(x)
  params <- from_py(pycall("named_parameters", self$py, "data"))
  n <- sum(vapply(params, length, 0))
  cat(sprintf("An `nn_module` (crnn, %s) containing %s parameters.\n", self$kind,
              format(n, big.mark = ",")))
  cat(sprintf("%s, %s mode\n", self$attrs$repr,
              if (isTRUE(self$attrs$training)) "training" else "eval"))
  for (p in names(params)) {
    cat(sprintf("  %-22s %s\n", p, fmt_shape(shape_of(params[[p]]))))
  }
  invisible(x)
}

module_forward <- function(self, input, hx) {
  if (self$cell) {
    check_cell_call(self, input, hx)
  } else {
    check_layer_call(self, input, hx)
  }
  from_py(pycall("forward", self$py, to_py(input, "input"),
                 to_py(hx, if (self$cell) "hx" else "h0")))
}

module_backward <- function(self, grads) {
  from_py(pycall("backward", self$py, grads))
}

# -- the shape checks of a call, in R's terms -----------------------------
shape_error <- function(name, expected, got, class = "crnn_shape_error") {
  crnn_abort(sprintf("%s: expected shape %s, got %s", name, expected, fmt_shape(got)),
             unique(c(class, "crnn_shape_error")))
}

check_layer_call <- function(self, input, hx) {
  a <- self$attrs
  if (inherits(input, "PackedSequence")) {
    n <- if (is.null(input$batch_sizes)) NA else input$batch_sizes[1]
    batched <- TRUE
  } else {
    input <- as_plain_array(input, "input")
    d <- shape_of(input)
    feat <- sprintf("input_size = %d", a$input_size)
    want <- if (a$batch_first) sprintf("(batch, seq_len, %s)", feat) else
      sprintf("(seq_len, batch, %s)", feat)
    if (!length(d) %in% 2:3 || d[length(d)] != a$input_size) {
      shape_error("input", sprintf("%s, or (seq_len, %s) for one sequence", want, feat), d)
    }
    batched <- length(d) == 3
    n <- if (!batched) 1L else if (a$batch_first) d[1] else d[2]
  }
  D <- if (a$bidirectional) 2L else 1L
  s <- D * a$num_layers
  out <- if (isTRUE(a$proj_size > 0)) a$proj_size else a$hidden_size
  lstm <- identical(a$mode, "LSTM")
  check_state <- function(h, name, size, what) {
    if (is.null(h)) return(invisible())
    h <- as_plain_array(h, name)
    want <- if (batched) c(s, n, size) else c(s, size)
    if (!identical(as.integer(shape_of(h)), as.integer(want))) {
      shape_error(name, sprintf("%s (num_layers * num_directions, %s%s)", fmt_shape(want),
                                if (batched) "batch, " else "", what),
                  shape_of(h), "crnn_state_error")
    }
  }
  if (lstm) {
    if (is.null(hx)) return(invisible())
    if (!is.list(hx) || is.object(hx) || length(hx) != 2) {
      crnn_abort(sprintf("hx: expected list(h0, c0) for nn_lstm, got %s",
                         if (is.list(hx)) sprintf("a list of %d", length(hx)) else
                           class(hx)[1]), c("crnn_state_error", "crnn_type_error"))
    }
    check_state(hx[[1]], "h0", out, if (out != a$hidden_size) "proj_size" else "hidden_size")
    check_state(hx[[2]], "c0", a$hidden_size, "hidden_size")
  } else {
    if (is.list(hx)) {
      crnn_abort(sprintf("h0: expected an array for %s, got a list", self$kind),
                 c("crnn_state_error", "crnn_type_error"))
    }
    check_state(hx, "h0", out, "hidden_size")
  }
  invisible()
}

check_cell_call <- function(self, input, hx) {
  a <- self$attrs
  input <- as_plain_array(input, "input")
  d <- shape_of(input)
  if (!length(d) %in% 1:2 || d[length(d)] != a$input_size) {
    shape_error("input", sprintf("(batch, input_size = %d), or (%d) for one sample",
                                 a$input_size, a$input_size), d)
  }
  want <- if (length(d) == 2) c(d[1], a$hidden_size) else a$hidden_size
  check <- function(h, name) {
    if (is.null(h)) return(invisible())
    h <- as_plain_array(h, name)
    if (!identical(as.integer(shape_of(h)), as.integer(want))) {
      shape_error(name, sprintf("%s (%shidden_size)", fmt_shape(want),
                                if (length(d) == 2) "batch, " else ""),
                  shape_of(h), "crnn_state_error")
    }
  }
  if (identical(self$kind, "nn_lstm_cell")) {
    if (is.null(hx)) return(invisible())
    if (!is.list(hx) || is.object(hx) || length(hx) != 2) {
      crnn_abort("hx: expected list(h, c) for nn_lstm_cell",
                 c("crnn_state_error", "crnn_type_error"))
    }
    check(hx[[1]], "h")
    check(hx[[2]], "c")
  } else {
    if (is.list(hx)) {
      crnn_abort(sprintf("hx: expected an array for %s, got a list", self$kind),
                 c("crnn_state_error", "crnn_type_error"))
    }
    check(hx, "hx")
  }
  invisible()
}
