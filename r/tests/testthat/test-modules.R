# R torch's constructors, arguments, defaults, parameter names and shapes,
# and the module's fields and methods.

test_that("the constructors have R torch's arguments and defaults", {
  expect_identical(formals(nn_rnn), as.pairlist(alist(
    input_size = , hidden_size = , num_layers = 1, nonlinearity = NULL, bias = TRUE,
    batch_first = FALSE, dropout = 0, bidirectional = FALSE, ... = )))
  expect_identical(formals(nn_lstm), as.pairlist(alist(
    input_size = , hidden_size = , num_layers = 1, bias = TRUE, batch_first = FALSE,
    dropout = 0, bidirectional = FALSE, proj_size = 0, ... = )))
  expect_identical(formals(nn_gru), as.pairlist(alist(
    input_size = , hidden_size = , num_layers = 1, bias = TRUE, batch_first = FALSE,
    dropout = 0, bidirectional = FALSE, ... = )))
  expect_identical(formals(nn_rnn_cell), as.pairlist(alist(
    input_size = , hidden_size = , bias = TRUE, nonlinearity = "tanh", ... = )))
  expect_identical(formals(nn_lstm_cell), as.pairlist(alist(
    input_size = , hidden_size = , bias = TRUE, ... = )))
  expect_identical(formals(nn_gru_cell), formals(nn_lstm_cell))
  expect_identical(formals(nn_utils_rnn_pack_padded_sequence), as.pairlist(alist(
    input = , lengths = , batch_first = FALSE, enforce_sorted = TRUE)))
  expect_identical(formals(nn_utils_rnn_pad_packed_sequence), as.pairlist(alist(
    sequence = , batch_first = FALSE, padding_value = 0, total_length = NULL)))
})

shapes <- function(m) lapply(m$named_parameters(), function(p) if (is.null(dim(p))) length(p) else dim(p))

test_that("parameter names (layers from 1) and shapes are R torch's", {
  rnn <- nn_rnn(10, 20, 2)
  expect_identical(shapes(rnn), list(
    weight_ih_l1 = c(20L, 10L), weight_hh_l1 = c(20L, 20L), bias_ih_l1 = 20L,
    bias_hh_l1 = 20L, weight_ih_l2 = c(20L, 20L), weight_hh_l2 = c(20L, 20L),
    bias_ih_l2 = 20L, bias_hh_l2 = 20L))
  bi <- nn_gru(3, 5, num_layers = 2, bidirectional = TRUE)
  expect_identical(names(bi$parameters), c(
    "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
    "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
    "weight_ih_l2", "weight_hh_l2", "bias_ih_l2", "bias_hh_l2",
    "weight_ih_l2_reverse", "weight_hh_l2_reverse", "bias_ih_l2_reverse", "bias_hh_l2_reverse"))
  expect_identical(dim(bi$weight_ih_l2_reverse), c(15L, 10L))
  expect_identical(shapes(nn_lstm(3, 5, bias = FALSE)),
                   list(weight_ih_l1 = c(20L, 3L), weight_hh_l1 = c(20L, 5L)))
  expect_identical(shapes(nn_lstm(3, 5, proj_size = 2)), list(
    weight_ih_l1 = c(20L, 3L), weight_hh_l1 = c(20L, 2L), bias_ih_l1 = 20L,
    bias_hh_l1 = 20L, weight_hr_l1 = c(2L, 5L)))
  expect_identical(shapes(nn_gru_cell(3, 5)), list(
    weight_ih = c(15L, 3L), weight_hh = c(15L, 5L), bias_ih = 15L, bias_hh = 15L))
  expect_identical(shapes(nn_rnn_cell(3, 5, bias = FALSE)),
                   list(weight_ih = c(5L, 3L), weight_hh = c(5L, 5L)))
  expect_identical(shapes(nn_lstm_cell(3, 5))$weight_hh, c(20L, 5L))
  expect_identical(names(rnn$state_dict()), names(rnn$parameters))
})

test_that("every argument reaches the module", {
  r <- nn_rnn(4, 6, num_layers = 3, nonlinearity = "relu", bias = FALSE, batch_first = TRUE,
              dropout = 0.25, bidirectional = TRUE)
  expect_identical(r$input_size, 4L)
  expect_identical(r$hidden_size, 6L)
  expect_identical(r$num_layers, 3L)
  expect_identical(r$nonlinearity, "relu")
  expect_false(r$bias)
  expect_true(r$batch_first)
  expect_identical(r$dropout, 0.25)
  expect_true(r$bidirectional)
  expect_identical(nn_rnn(4, 6)$nonlinearity, "tanh")
  expect_identical(nn_lstm(4, 6, proj_size = 3)$proj_size, 3L)
  expect_identical(nn_gru(4, 6)$dtype, "float32")
  expect_identical(nn_gru(4, 6, dtype = "float64")$dtype, "float64")
  expect_identical(nn_rnn_cell(4, 6, nonlinearity = "relu")$nonlinearity, "relu")
  expect_false(nn_gru_cell(4, 6, bias = FALSE)$bias)
  # output shapes of each setting
  x <- array(rnorm(2 * 5 * 4), c(2, 5, 4))     # batch_first: (batch 2, seq 5, 4)
  res <- r(x)
  expect_identical(dim(res[[1]]), c(2L, 5L, 12L))
  expect_identical(dim(res[[2]]), c(6L, 2L, 6L))
  l <- nn_lstm(4, 6, num_layers = 2, proj_size = 3, bidirectional = TRUE)
  res <- l(array(rnorm(5 * 2 * 4), c(5, 2, 4)))
  expect_identical(dim(res[[1]]), c(5L, 2L, 6L))
  expect_identical(dim(res[[2]][[1]]), c(4L, 2L, 3L))
  expect_identical(dim(res[[2]][[2]]), c(4L, 2L, 6L))
  one <- nn_gru(4, 6)(array(rnorm(5 * 4), c(5, 4)))   # one sequence (seq_len, input_size)
  expect_identical(dim(one[[1]]), c(5L, 6L))
  expect_identical(dim(one[[2]]), c(1L, 6L))
  expect_identical(dim(nn_gru_cell(4, 6)(rnorm(4))), 6L)
  expect_identical(lengths(nn_lstm_cell(4, 6)(matrix(rnorm(8), 2, 4))), c(12L, 12L))
})

test_that("a seed fixes the initialisation; crnn_manual_seed too", {
  expect_identical(nn_gru(3, 4, seed = 5)$state_dict(), nn_gru(3, 4, seed = 5)$state_dict())
  crnn_manual_seed(42)
  a <- nn_lstm(3, 4)$state_dict()
  crnn_manual_seed(42)
  expect_identical(nn_lstm(3, 4)$state_dict(), a)
  # initialised from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as R torch's
  w <- unlist(nn_rnn(3, 16)$parameters)
  expect_true(all(abs(w) <= 0.25) && sd(w) > 0.1)
})

test_that("train, eval, zero_grad, backward, state dicts and parameter assignment", {
  gru <- nn_gru(3, 4, seed = 1)
  expect_true(gru$training)
  expect_false(gru$eval()$training)
  expect_true(gru$train()$training)
  expect_false(gru$train(FALSE)$training)
  gru$train()
  x <- array(rnorm(5 * 2 * 3), c(5, 2, 3))
  h0 <- array(0, c(1, 2, 4))
  res <- gru(x, h0)
  g <- gru$backward(array(1, dim(res[[1]])))
  expect_identical(dim(g[[1]]), dim(x))
  expect_identical(dim(g[[2]]), dim(h0))
  expect_true(any(gru$gradients$weight_hh_l1 != 0))
  gru$zero_grad()
  expect_true(all(unlist(gru$gradients) == 0))
  # backward without a training forward is an R error of crnn's class
  expect_error(gru$backward(array(1, dim(res[[1]]))), class = "crnn_runtime_error")
  # a state dict loads by R torch's names; assignment sets one parameter
  other <- nn_gru(3, 4, seed = 2)
  other$load_state_dict(gru$state_dict())
  expect_identical(other$state_dict(), gru$state_dict())
  other$bias_hh_l1 <- 1:12
  expect_identical(other$bias_hh_l1, array(as.double(1:12), 12L))
  expect_error(other$load_state_dict(list(weight_ih_l1 = other$weight_ih_l1)),
               class = "crnn_key_error")
  other$load_state_dict(list(weight_ih_l1 = other$weight_ih_l1 * 0), strict = FALSE)
  expect_true(all(other$weight_ih_l1 == 0))
  expect_null(other$no_such_field)
  expect_true(all(c("forward", "parameters", "weight_ih_l1") %in% names(other)))
  expect_identical(other$forward(x, h0), other(x, h0))
  expect_output(print(other), "An `nn_module` \\(crnn, nn_gru\\) containing 108 parameters")
})

test_that("integer arrays and vectors are taken where a float array is expected", {
  cell <- nn_rnn_cell(3, 2, seed = 3)
  cell$eval()
  expect_identical(cell(1:3), cell(c(1, 2, 3)))
  rnn <- nn_rnn(3, 2, seed = 3)
  xi <- array(1:12, c(2, 2, 3))
  expect_identical(rnn(xi), rnn(xi + 0))
})

test_that("a torch_tensor is taken through as.array", {
  # R torch is optional: a stand-in class with the same as.array method
  registerS3method("as.array", "crnn_test_tensor", function(x, ...) unclass(x)$values)
  x <- array(rnorm(5 * 2 * 3), c(5, 2, 3))
  tensor <- structure(list(values = x), class = c("crnn_test_tensor", "torch_tensor"))
  gru <- nn_gru(3, 4, seed = 4)
  expect_identical(gru(tensor), gru(x))
})

test_that("packed batches: R torch's fields, one-based indices, each sequence's own last step", {
  x <- array(rnorm(7 * 3 * 2), c(7, 3, 2))
  p <- nn_utils_rnn_pack_padded_sequence(x, c(4, 7, 2), enforce_sorted = FALSE)
  expect_s3_class(p, "PackedSequence")
  expect_identical(p$batch_sizes, c(3L, 3L, 2L, 2L, 1L, 1L, 1L))
  expect_identical(p$sorted_indices, c(2L, 1L, 3L))
  expect_identical(p$unsorted_indices, c(2L, 1L, 3L))
  expect_identical(p$data[1:3, ], rbind(x[1, 2, ], x[1, 1, ], x[1, 3, ]))
  expect_output(print(p), "PackedSequence: 3 sequences, 7 steps")
  back <- nn_utils_rnn_pad_packed_sequence(p)
  expect_identical(back[[2]], c(4L, 7L, 2L))
  expect_identical(back[[1]][1:4, 1, ], x[1:4, 1, ])
  expect_true(all(back[[1]][5:7, 1, ] == 0))
  expect_identical(dim(nn_utils_rnn_pad_packed_sequence(p, total_length = 9)[[1]]),
                   c(9L, 3L, 2L))
  gru <- nn_gru(2, 3, seed = 5)
  gru$eval()
  res <- gru(p)
  alone <- gru(x[1:4, 1, , drop = FALSE])
  expect_identical(res[[2]][, 1, ], alone[[2]][, 1, ])
})

test_that("quantized modules run and keep the module's kind", {
  lstm <- nn_lstm(4, 8, seed = 6)
  lstm$eval()
  x <- array(rnorm(5 * 2 * 4), c(5, 2, 4))
  for (dt in c("int8", "bfloat16")) {
    q <- crnn_quantize(lstm, dt)
    expect_s3_class(q, "nn_lstm")
    res <- q(x)
    expect_equal(res[[1]], lstm(x)[[1]], tolerance = 0.05)
  }
  sd <- crnn_quantize(lstm)$state_dict()
  expect_true(is.integer(sd$weight_ih_l1))
  expect_true(all(abs(sd$weight_ih_l1) <= 127))
  expect_identical(length(sd$weight_ih_l1_scale), 32L)
  expect_error(crnn_quantize(lstm, "int4"), class = "crnn_value_error")
})
