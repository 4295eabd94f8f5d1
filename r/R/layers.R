# R torch's constructors, arguments and defaults, on crnn's layers.

as_count <- function(x, name, zero = FALSE) {
  if (!is.numeric(x) || length(x) != 1 || is.na(x) || !is.finite(x) || x != round(x)) {
    crnn_abort(sprintf("%s: expected a whole number, got %s", name,
                       paste(deparse(x), collapse = " ")), "crnn_type_error")
  }
  if (x < if (zero) 0 else 1) {
    crnn_abort(sprintf("%s: expected a whole number greater than %s, got %s", name,
                       if (zero) "or equal to zero" else "zero", x), "crnn_value_error")
  }
  as.integer(x)
}

as_flag <- function(x, name) {
  if (!is.logical(x) || length(x) != 1 || is.na(x)) {
    crnn_abort(sprintf("%s: expected TRUE or FALSE, got %s", name,
                       paste(deparse(x), collapse = " ")), "crnn_type_error")
  }
  x
}

as_probability <- function(x, name) {
  if (!is.numeric(x) || length(x) != 1 || is.na(x) || x < 0 || x > 1) {
    crnn_abort(sprintf("%s: expected a number in [0, 1], got %s", name,
                       paste(deparse(x), collapse = " ")), "crnn_value_error")
  }
  as.double(x)
}

# The arguments crnn takes beyond R torch's, through `...`: dtype, seed.
extra_args <- function(...) {
  extra <- list(...)
  known <- c("dtype", "seed")
  if (length(extra) && (is.null(names(extra)) || any(!names(extra) %in% known))) {
    bad <- if (is.null(names(extra))) "an unnamed argument" else
      paste(setdiff(names(extra), known), collapse = ", ")
    crnn_abort(sprintf("...: expected only dtype and seed, got %s", bad), "crnn_type_error")
  }
  out <- list()
  if (!is.null(extra$dtype)) {
    dt <- extra$dtype
    if (inherits(dt, "torch_dtype")) dt <- tolower(sub("^torch_?", "", format(dt)))
    dt <- switch(as.character(dt)[1], float = , float32 = "float32", double = ,
                 float64 = "float64", NA)
    if (is.na(dt)) {
      crnn_abort(sprintf("dtype: expected \"float32\" or \"float64\", got %s",
                         paste(deparse(extra$dtype), collapse = " ")), "crnn_value_error")
    }
    out$dtype <- dt
  }
  if (!is.null(extra$seed)) out$seed <- as_count(extra$seed, "seed", zero = TRUE)
  out
}

layer <- function(kind, args, ...) {
  new_module(pycall("new_module", kind, c(args, extra_args(...))), kind)
}

layer_args <- function(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                       bidirectional) {
  list(input_size = as_count(input_size, "input_size"),
       hidden_size = as_count(hidden_size, "hidden_size"),
       num_layers = as_count(num_layers, "num_layers"),
       bias = as_flag(bias, "bias"),
       batch_first = as_flag(batch_first, "batch_first"),
       dropout = as_probability(dropout, "dropout"),
       bidirectional = as_flag(bidirectional, "bidirectional"))
}

#' Recurrent layers: Elman RNN, LSTM, GRU
#'
#' R torch's `nn_rnn`, `nn_lstm` and `nn_gru`, computed by the Python
#' package crnn. A layer is a function: `rnn(input, hx)` returns
#' `list(output, h_n)` (an LSTM: `list(output, list(h_n, c_n))`).
#'
#' Each layer of an Elman RNN computes, for every element of the sequence,
#' \deqn{h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{(t-1)} + b_{hh})}
#' (ReLU with `nonlinearity = "relu"`); an LSTM stacks the gates i, f, g, o
#' and a GRU r, z, n as torch does.
#'
#' @section Arrays:
#' Input, states and outputs are base R numeric arrays (double; integer
#' arrays are accepted; a `torch_tensor` is taken through `as.array()`),
#' indexed as in R torch: `input[t, n, f]` is feature `f` of sequence `n` at
#' step `t`. Shapes: `input` (seq_len, batch, input_size), or (batch,
#' seq_len, input_size) with `batch_first = TRUE`, or (seq_len, input_size)
#' for one sequence; `h0` and `h_n` (num_layers * num_directions, batch,
#' H_out), H_out = `proj_size` if it is positive, else `hidden_size`; an
#' LSTM's `c0`, `c_n` likewise with `hidden_size`; `output` (seq_len, batch,
#' num_directions * H_out). `input` may be a packed batch
#' ([nn_utils_rnn_pack_padded_sequence()]); the output then is one too.
#' The module computes in float32 (R torch's default; `dtype = "float64"`
#' for double precision): the outputs are doubles holding float32 values
#' exactly. R's missing value `NA` in an input is an error; `NaN`
#' propagates as in torch.
#'
#' @section Fields and methods:
#' - `$parameters`, `$named_parameters()`: a named list of the parameters
#'   (arrays), with R torch's names: `weight_ih_l1`, `weight_hh_l1`,
#'   `bias_ih_l1`, `bias_hh_l1`, `weight_hr_l1` (LSTM with projections),
#'   `_reverse` for the backward direction; layers are numbered from 1.
#'   `$weight_ih_l1` is one of them; assigning it (`rnn$weight_ih_l1 <- w`)
#'   sets it.
#' - `$state_dict()`, `$load_state_dict(state_dict, strict = TRUE)`: the
#'   same named list, and loading one by name.
#' - `$train(mode = TRUE)`, `$eval()`, `$training`: training mode applies
#'   dropout and keeps what `$backward()` needs.
#' - `$backward(grad_output, grad_h_n = NULL)`: after a forward in training
#'   mode, adds the parameters' gradients (`$gradients`, a named list) and
#'   returns `list(grad_input, grad_h0)` (`grad_h0` is `NULL` when no `hx`
#'   was given; an LSTM's `grad_h_n` and state gradient are
#'   `list(h, c)`). `$zero_grad()` zeroes the gradients.
#' - `$input_size`, `$hidden_size`, `$num_layers`, ...: the settings; `$py`
#'   the Python module.
#'
#' @param input_size The number of expected features in the input `x`.
#' @param hidden_size The number of features in the hidden state `h`.
#' @param num_layers Number of recurrent layers. E.g., setting `num_layers = 2`
#'   stacks two layers, the second taking in the outputs of the first.
#'   Default: 1.
#' @param nonlinearity The non-linearity to use, `"tanh"` or `"relu"`.
#'   Default (`NULL`): `"tanh"`.
#' @param bias If `FALSE`, the layer does not use the bias weights `b_ih` and
#'   `b_hh`. Default: `TRUE`.
#' @param batch_first If `TRUE`, the input and output arrays are (batch, seq,
#'   feature). Default: `FALSE`.
#' @param dropout If non-zero, a dropout layer on the outputs of each layer
#'   but the last, with this probability, in training mode. Default: 0.
#' @param bidirectional If `TRUE`, a bidirectional layer. Default: `FALSE`.
#' @param proj_size If positive, an LSTM with projections of this size (h
#'   has `proj_size` features). Default: 0.
#' @param ... `dtype = "float32"` (default) or `"float64"`; `seed`, a whole
#'   number fixing the initialisation and the dropout masks.
#' @return The module: a function `(input, hx = NULL)` with the fields and
#'   methods above.
#' @examples
#' # R torch's example, with base R arrays for torch_randn()
#' if (crnn_is_available()) {
#' rnn <- nn_rnn(10, 20, 2)
#' input <- array(rnorm(5 * 3 * 10), c(5, 3, 10))
#' h0 <- array(rnorm(2 * 3 * 20), c(2, 3, 20))
#' rnn(input, h0)
#' }
#' @name nn_rnn
#' @export
nn_rnn <- function(input_size, hidden_size, num_layers = 1, nonlinearity = NULL,
                   bias = TRUE, batch_first = FALSE, dropout = 0, bidirectional = FALSE,
                   ...) {
  if (is.null(nonlinearity)) nonlinearity <- "tanh"
  if (!is.character(nonlinearity) || length(nonlinearity) != 1 ||
      !nonlinearity %in% c("tanh", "relu")) {
    crnn_abort(sprintf("nonlinearity: expected \"tanh\" or \"relu\", got %s",
                       paste(deparse(nonlinearity), collapse = " ")), "crnn_value_error")
  }
  args <- layer_args(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                     bidirectional)
  layer("nn_rnn", c(args, nonlinearity = nonlinearity), ...)
}

#' @rdname nn_rnn
#' @export
nn_lstm <- function(input_size, hidden_size, num_layers = 1, bias = TRUE,
                    batch_first = FALSE, dropout = 0, bidirectional = FALSE,
                    proj_size = 0, ...) {
  args <- layer_args(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                     bidirectional)
  layer("nn_lstm", c(args, proj_size = as_count(proj_size, "proj_size", zero = TRUE)), ...)
}

#' @rdname nn_rnn
#' @export
nn_gru <- function(input_size, hidden_size, num_layers = 1, bias = TRUE,
                   batch_first = FALSE, dropout = 0, bidirectional = FALSE, ...) {
  layer("nn_gru", layer_args(input_size, hidden_size, num_layers, bias, batch_first,
                             dropout, bidirectional), ...)
}

#' Recurrent cells: one step of an Elman RNN, LSTM or GRU
#'
#' torch's `RNNCell`, `LSTMCell` and `GRUCell` with R torch's naming. A
#' cell is a function: `h1 <- cell(input, hx)` (an LSTM cell: `list(h1, c1)
#' <- cell(input, list(h0, c0))`), `input` (batch, input_size) or a vector
#' (input_size) for one sample, the states (batch, hidden_size) or
#' (hidden_size); `hx = NULL` starts from zeros. Parameters: `weight_ih`,
#' `weight_hh`, `bias_ih`, `bias_hh`. The fields and methods are a layer's
#' ([nn_rnn()]); `$backward(grad)` takes the gradient of the output (an
#' LSTM cell: `list(grad_h1, grad_c1)`) and returns `list(grad_input,
#' grad_hx)`.
#'
#' @inheritParams nn_rnn
#' @param nonlinearity `"tanh"` (default) or `"relu"`.
#' @return The cell: a function `(input, hx = NULL)`.
#' @examples
#' if (crnn_is_available()) {
#'   cell <- nn_gru_cell(10, 20)
#'   h <- NULL
#'   x <- array(rnorm(6 * 3 * 10), c(6, 3, 10))
#'   for (t in 1:6) h <- cell(x[t, , ], h)
#'   dim(h)   # 3 20
#' }
#' @name nn_rnn_cell
#' @export
nn_rnn_cell <- function(input_size, hidden_size, bias = TRUE, nonlinearity = "tanh", ...) {
  if (!is.character(nonlinearity) || length(nonlinearity) != 1 ||
      !nonlinearity %in% c("tanh", "relu")) {
    crnn_abort(sprintf("nonlinearity: expected \"tanh\" or \"relu\", got %s",
                       paste(deparse(nonlinearity), collapse = " ")), "crnn_value_error")
  }
  layer("nn_rnn_cell", list(input_size = as_count(input_size, "input_size"),
                            hidden_size = as_count(hidden_size, "hidden_size"),
                            bias = as_flag(bias, "bias"), nonlinearity = nonlinearity), ...)
}

#' @rdname nn_rnn_cell
#' @export
nn_lstm_cell <- function(input_size, hidden_size, bias = TRUE, ...) {
  layer("nn_lstm_cell", list(input_size = as_count(input_size, "input_size"),
                             hidden_size = as_count(hidden_size, "hidden_size"),
                             bias = as_flag(bias, "bias")), ...)
}

#' @rdname nn_rnn_cell
#' @export
nn_gru_cell <- function(input_size, hidden_size, bias = TRUE, ...) {
  layer("nn_gru_cell", list(input_size = as_count(input_size, "input_size"),
                            hidden_size = as_count(hidden_size, "hidden_size"),
                            bias = as_flag(bias, "bias")), ...)
}
