# Outputs, final states and gradients equal, bit for bit, to Python crnn's
# on the same weights and inputs. Every shape's sizes differ, so that a
# transposition anywhere would show.

layer_case <- function(kind, ctor, args, L = 5, N = 3, state = TRUE, train = FALSE,
                       backward = FALSE, lengths = NULL) {
  set.seed(length(args) * 7 + L)
  m <- do.call(ctor, args)
  params <- randomize(m)
  D <- if (isTRUE(args$bidirectional)) 2 else 1
  layers <- if (is.null(args$num_layers)) 1 else args$num_layers
  H <- args$hidden_size
  P <- if (!is.null(args$proj_size) && args$proj_size > 0) args$proj_size else H
  bf <- isTRUE(args$batch_first)
  x <- if (bf) rand(N, L, args$input_size) else rand(L, N, args$input_size)
  arrays <- list(x = x)
  hx <- NULL
  if (state) {
    arrays$h0 <- rand(D * layers, N, P)
    hx <- arrays$h0
    if (kind == "LSTM") {
      arrays$c0 <- rand(D * layers, N, H)
      hx <- list(arrays$h0, arrays$c0)
    }
  }
  if (train) m$train() else m$eval()
  input <- if (is.null(lengths)) x else
    nn_utils_rnn_pack_padded_sequence(x, lengths, batch_first = bf, enforce_sorted = FALSE)
  got <- m(input, hx)
  kwargs <- args[setdiff(names(args), "dtype")]
  if (!is.null(args$dtype)) kwargs$dtype <- args$dtype
  if (kind == "RNN" && is.null(kwargs$nonlinearity)) kwargs$nonlinearity <- "tanh"
  spec <- list(train = train, backward = backward)
  if (!is.null(lengths)) spec$lengths <- as.list(lengths)
  out <- got[[1]]
  if (!is.null(lengths)) {
    expect_s3_class(out, "PackedSequence")
    packed_data <- out$data
    out <- nn_utils_rnn_pad_packed_sequence(out, batch_first = bf)[[1]]
  }
  if (backward) {
    arrays$grad_output <- array(rnorm(length(out)), dim(out))
    gstate <- NULL
    if (kind == "LSTM") {
      arrays$grad_h_n <- rand(D * layers, N, P)
      arrays$grad_c_n <- rand(D * layers, N, H)
      gstate <- list(arrays$grad_h_n, arrays$grad_c_n)
    } else {
      arrays$grad_h_n <- rand(D * layers, N, P)
      gstate <- arrays$grad_h_n
    }
    gout <- if (is.null(lengths)) arrays$grad_output else
      nn_utils_rnn_pack_padded_sequence(arrays$grad_output, lengths, batch_first = bf,
                                        enforce_sorted = FALSE)
    grads <- m$backward(gout, gstate)
  }
  ref <- run_reference(kind, kwargs, params, arrays, spec)
  expect_true(bits(out, ref$output))
  if (!is.null(lengths)) expect_true(bits(packed_data, ref$output.data))
  if (kind == "LSTM") {
    expect_true(bits(got[[2]][[1]], ref$h_n))
    expect_true(bits(got[[2]][[2]], ref$c_n))
  } else {
    expect_true(bits(got[[2]], ref$h_n))
  }
  if (backward) {
    gin <- if (is.null(lengths)) grads[[1]] else grads[[1]]$data
    expect_true(bits(gin, ref$grad_input))
    if (state) {
      if (kind == "LSTM") {
        expect_true(bits(grads[[2]][[1]], ref$grad_h0))
        expect_true(bits(grads[[2]][[2]], ref$grad_c0))
      } else {
        expect_true(bits(grads[[2]], ref$grad_h0))
      }
    }
    g <- m$gradients
    for (n in names(g)) expect_true(bits(g[[n]], ref[[paste0("grad.", torch_name(n))]]), label = n)
  }
  invisible(ref)
}

test_that("nn_rnn matches Python crnn bit for bit (tanh, relu, stacked, bidirectional)", {
  layer_case("RNN", nn_rnn, list(input_size = 7, hidden_size = 4))
  layer_case("RNN", nn_rnn, list(input_size = 7, hidden_size = 4, num_layers = 2,
                                 nonlinearity = "relu", bidirectional = TRUE), L = 6, N = 2)
  layer_case("RNN", nn_rnn, list(input_size = 7, hidden_size = 4, batch_first = TRUE,
                                 bias = FALSE), state = FALSE)
  layer_case("RNN", nn_rnn, list(input_size = 7, hidden_size = 4, dtype = "float64"))
})

test_that("nn_lstm matches Python crnn bit for bit (projections, two layers, both ways)", {
  layer_case("LSTM", nn_lstm, list(input_size = 7, hidden_size = 6))
  layer_case("LSTM", nn_lstm, list(input_size = 7, hidden_size = 6, num_layers = 2,
                                   bidirectional = TRUE, proj_size = 4), L = 4, N = 5)
  layer_case("LSTM", nn_lstm, list(input_size = 7, hidden_size = 6, batch_first = TRUE),
             state = FALSE)
})

test_that("nn_gru matches Python crnn bit for bit", {
  layer_case("GRU", nn_gru, list(input_size = 7, hidden_size = 4, num_layers = 3), L = 9)
  layer_case("GRU", nn_gru, list(input_size = 7, hidden_size = 4, bidirectional = TRUE,
                                 batch_first = TRUE))
})

test_that("training: outputs, input, state and every parameter gradient match Python's", {
  layer_case("RNN", nn_rnn, list(input_size = 7, hidden_size = 4, num_layers = 2,
                                 bidirectional = TRUE), train = TRUE, backward = TRUE)
  layer_case("LSTM", nn_lstm, list(input_size = 7, hidden_size = 6, proj_size = 2),
             train = TRUE, backward = TRUE)
  layer_case("GRU", nn_gru, list(input_size = 7, hidden_size = 4, batch_first = TRUE),
             train = TRUE, backward = TRUE)
  # dropout between layers, its masks from the same seed on both sides
  layer_case("GRU", nn_gru, list(input_size = 7, hidden_size = 4, num_layers = 2,
                                 dropout = 0.5, seed = 11), train = TRUE, backward = TRUE)
})

test_that("packed batches match Python crnn bit for bit, forward and backward", {
  layer_case("GRU", nn_gru, list(input_size = 7, hidden_size = 4, bidirectional = TRUE),
             L = 6, N = 3, lengths = c(4, 6, 2), train = TRUE, backward = TRUE)
  layer_case("LSTM", nn_lstm, list(input_size = 7, hidden_size = 5, batch_first = TRUE),
             L = 6, N = 3, lengths = c(3, 6, 5))
})

cell_case <- function(kind, ctor, args, N = 3, state = TRUE, unbatched = FALSE) {
  m <- do.call(ctor, args)
  params <- randomize(m)
  x <- if (unbatched) rnorm(args$input_size) else rand(N, args$input_size)
  H <- args$hidden_size
  arrays <- list(x = x)
  hx <- NULL
  if (state) {
    arrays$h0 <- if (unbatched) rnorm(H) else rand(N, H)
    hx <- arrays$h0
    if (kind == "LSTMCell") {
      arrays$c0 <- if (unbatched) rnorm(H) else rand(N, H)
      hx <- list(arrays$h0, arrays$c0)
    }
  }
  m$train()
  got <- m(x, hx)
  if (kind == "LSTMCell") {
    arrays$grad_h_n <- array(rnorm(length(got[[1]])), dims_of(got[[1]]))
    arrays$grad_c_n <- array(rnorm(length(got[[2]])), dims_of(got[[2]]))
    grads <- m$backward(list(arrays$grad_h_n, arrays$grad_c_n))
  } else {
    arrays$grad_h_n <- array(rnorm(length(got)), dims_of(got))
    grads <- m$backward(arrays$grad_h_n)
  }
  ref <- run_reference(kind, args, params, arrays, list(train = TRUE, backward = TRUE))
  if (kind == "LSTMCell") {
    expect_true(bits(got[[1]], ref$h_n))
    expect_true(bits(got[[2]], ref$c_n))
  } else {
    expect_true(bits(got, ref$h_n))
  }
  expect_true(bits(grads[[1]], ref$grad_input))
  if (state && kind == "LSTMCell") {
    expect_true(bits(grads[[2]][[1]], ref$grad_h0))
    expect_true(bits(grads[[2]][[2]], ref$grad_c0))
  } else if (state) {
    expect_true(bits(grads[[2]], ref$grad_h0))
  }
  g <- m$gradients
  for (n in names(g)) expect_true(bits(g[[n]], ref[[paste0("grad.", n)]]), label = n)
}

test_that("the cells match Python crnn bit for bit, forward and backward", {
  cell_case("RNNCell", nn_rnn_cell, list(input_size = 7, hidden_size = 4))
  cell_case("RNNCell", nn_rnn_cell, list(input_size = 7, hidden_size = 4,
                                         nonlinearity = "relu", bias = FALSE), state = FALSE)
  cell_case("LSTMCell", nn_lstm_cell, list(input_size = 7, hidden_size = 5))
  cell_case("GRUCell", nn_gru_cell, list(input_size = 7, hidden_size = 4), unbatched = TRUE)
})

test_that("R's indexing is kept: input[t, n, f] is element (t-1, n-1, f-1) in Python", {
  # W_ih the identity, no recurrence, no bias: output[t, n, j] = tanh(input[t, n, j])
  rnn <- nn_rnn(6, 6, bias = FALSE)
  rnn$weight_ih_l1 <- diag(6)
  rnn$weight_hh_l1 <- matrix(0, 6, 6)
  x <- array(seq_len(5 * 3 * 6) / 100, c(5, 3, 6))
  out <- rnn(x)[[1]]
  expect_equal(dim(out), c(5L, 3L, 6L))
  expect_equal(out, tanh(x), tolerance = 1e-6)
  # and through the reference's own route (a C-order file): element (1, 2, 3)
  ref <- run_reference("RNN", list(input_size = 6, hidden_size = 6, bias = FALSE),
                       rnn$state_dict(), list(x = x))
  expect_true(bits(out, ref$output))
  expect_equal(ref$output[2, 3, 4], tanh(x[2, 3, 4]), tolerance = 1e-6)
})
