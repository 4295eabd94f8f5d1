# Errors are R conditions of class crnn_error (a subclass per kind) whose
# message names the argument and gives the expected and the given shape.

expect_crnn_error <- function(expr, class, pattern) {
  e <- tryCatch(expr, error = function(e) e)
  expect_s3_class(e, "crnn_error")
  expect_s3_class(e, class)
  expect_match(conditionMessage(e), pattern)
  expect_false(grepl("Traceback|File \"", conditionMessage(e)))
  invisible(e)
}

test_that("a bad input shape names the argument, the expected and the given shape", {
  rnn <- nn_rnn(10, 20, 2)
  expect_crnn_error(rnn(array(0, c(5, 3, 7))), "crnn_shape_error",
                    "^input: expected shape \\(seq_len, batch, input_size = 10\\).*got \\(5, 3, 7\\)")
  expect_crnn_error(rnn(array(0, c(5, 3, 10, 1))), "crnn_shape_error", "got \\(5, 3, 10, 1\\)")
  bf <- nn_gru(10, 20, batch_first = TRUE)
  expect_crnn_error(bf(array(0, c(5, 3, 4))), "crnn_shape_error", "\\(batch, seq_len, input_size = 10\\)")
  cell <- nn_gru_cell(4, 3)
  expect_crnn_error(cell(matrix(0, 2, 5)), "crnn_shape_error",
                    "^input: expected shape \\(batch, input_size = 4\\).*got \\(2, 5\\)")
})

test_that("a wrong state is a crnn_state_error", {
  rnn <- nn_rnn(10, 20, 2)
  x <- array(0, c(5, 3, 10))
  e <- expect_crnn_error(rnn(x, array(0, c(1, 3, 20))), "crnn_state_error",
                         "^h0: expected shape \\(2, 3, 20\\) .*got \\(1, 3, 20\\)")
  expect_s3_class(e, "crnn_shape_error")
  expect_crnn_error(rnn(x, list(array(0, c(2, 3, 20)))), "crnn_state_error", "^h0: expected an array")
  lstm <- nn_lstm(10, 20, proj_size = 5)
  expect_crnn_error(lstm(x, array(0, c(1, 3, 5))), "crnn_state_error", "^hx: expected list\\(h0, c0\\)")
  expect_crnn_error(lstm(x, list(array(0, c(1, 3, 5)), array(0, c(1, 3, 5)))), "crnn_state_error",
                    "^c0: expected shape \\(1, 3, 20\\).*got \\(1, 3, 5\\)")
  expect_crnn_error(lstm(x, list(array(0, c(1, 3, 5)), NULL)), "crnn_type_error",
                    "expected both h_0 and c_0")
  cell <- nn_lstm_cell(4, 3)
  expect_crnn_error(cell(matrix(0, 2, 4), list(matrix(0, 2, 3), matrix(0, 3, 3))),
                    "crnn_state_error", "^c: expected shape \\(2, 3\\).*got \\(3, 3\\)")
  gru <- nn_gru(10, 20)
  gru(x)
  expect_crnn_error(gru$backward(array(0, c(5, 3, 20)), array(0, c(1, 3, 2))), "crnn_error",
                    "grad_h_n.*\\(1, 3, 20\\).*\\(1, 3, 2\\)")
})

test_that("a wrong type is a crnn_type_error", {
  rnn <- nn_rnn(2, 3)
  expect_crnn_error(rnn(array("a", c(2, 2, 2))), "crnn_type_error",
                    "^input: expected a numeric \\(double or integer\\) array, got character")
  expect_crnn_error(rnn(array(TRUE, c(2, 2, 2))), "crnn_type_error", "got logical")
  expect_crnn_error(rnn(factor(1:4)), "crnn_type_error", "got factor")
  expect_crnn_error(rnn(array(0, c(2, 2, 2)), "h"), "crnn_type_error", "^h0: .*got character")
  expect_crnn_error(nn_rnn(2.5, 3), "crnn_type_error", "^input_size: expected a whole number, got 2.5")
  expect_crnn_error(nn_rnn("2", 3), "crnn_type_error", "^input_size")
  expect_crnn_error(nn_gru(2, 0), "crnn_value_error", "^hidden_size: expected a whole number greater than zero, got 0")
  expect_crnn_error(nn_gru(2, 3, bidirectional = NA), "crnn_type_error", "^bidirectional")
  expect_crnn_error(nn_gru(2, 3, dropout = 2), "crnn_value_error", "^dropout: expected a number in \\[0, 1\\]")
  expect_crnn_error(nn_rnn(2, 3, nonlinearity = "sigmoid"), "crnn_value_error", "^nonlinearity")
  expect_crnn_error(nn_lstm(2, 3, proj_size = 3), "crnn_value_error", "^proj_size: expected a value smaller than hidden_size=3, got 3")
  expect_crnn_error(nn_gru(2, 3, dtype = "float16"), "crnn_value_error", "^dtype")
  expect_crnn_error(nn_gru(2, 3, colour = 1), "crnn_type_error", "colour")
  expect_crnn_error(rnn$load_state_dict(1:3), "crnn_type_error", "^state_dict: expected a named list")
  expect_crnn_error(crnn_save(rnn, 3), "crnn_type_error", "^path")
})

test_that("R's missing value in an input, a state or a gradient is a crnn_na_error; NaN goes through", {
  rnn <- nn_rnn(3, 2)
  x <- array(rnorm(4 * 2 * 3), c(4, 2, 3))
  x[2, 1, 3] <- NA
  expect_crnn_error(rnn(x), "crnn_na_error",
                    "^input: expected no missing values \\(NA\\), got 1, the first at \\[2, 1, 3\\] of shape \\(4, 2, 3\\)")
  xi <- array(1:24, c(4, 2, 3))
  xi[1, 2, 1] <- NA
  expect_crnn_error(rnn(xi), "crnn_na_error", "\\[1, 2, 1\\]")
  expect_crnn_error(rnn(array(0, c(4, 2, 3)), array(NA_real_, c(1, 2, 2))), "crnn_na_error", "^h0")
  x[2, 1, 3] <- NaN
  out <- rnn(x)[[1]]
  expect_true(is.nan(out[2, 1, 1]) && !is.na(out[1, 1, 1]) && !is.nan(out[1, 1, 1]))
})

test_that("errors from crnn's own checks come back as R conditions with R torch's names", {
  rnn <- nn_rnn(3, 2, num_layers = 2)
  e <- expect_crnn_error(rnn$load_state_dict(list(weight_hh_l2 = matrix(0, 5, 5)), strict = FALSE),
                         "crnn_shape_error", "weight_hh_l2")
  expect_crnn_error(rnn$load_state_dict(list(weight_hh_l9 = matrix(0, 2, 2))), "crnn_key_error",
                    "weight_hh_l9")
  expect_crnn_error(crnn_load(file.path(tempdir(), "no-such-file.npz")), "crnn_file_error",
                    "no-such-file")
  p <- nn_utils_rnn_pack_padded_sequence(array(0, c(3, 2, 3)), c(3, 2))
  expect_crnn_error(nn_utils_rnn_pack_padded_sequence(array(0, c(3, 2, 3)), c(2, 3)),
                    "crnn_value_error", "lengths")
  expect_crnn_error(nn_utils_rnn_pad_packed_sequence(list()), "crnn_type_error", "^sequence")
})
