# The example of R torch's nn_rnn page, verbatim but for the tensors:
# array(rnorm(...), dims) for torch_randn(...).

test_that("the seed's R example runs and prints a readable result", {
  rnn <- nn_rnn(10, 20, 2)
  input <- array(rnorm(5 * 3 * 10), c(5, 3, 10))
  h0 <- array(rnorm(2 * 3 * 20), c(2, 3, 20))
  res <- rnn(input, h0)
  expect_length(res, 2)
  expect_identical(dim(res[[1]]), c(5L, 3L, 20L))
  expect_identical(dim(res[[2]]), c(2L, 3L, 20L))
  expect_true(all(abs(unlist(res)) < 1))
  # the last layer's final state is the output's last step
  expect_identical(res[[2]][2, , ], res[[1]][5, , ])
  printed <- capture.output(print(res))
  expect_identical(printed[1], "[[1]]")
  expect_true(", , 1" %in% printed && ", , 20" %in% printed && "[[2]]" %in% printed)
  expect_output(print(rnn), "RNN\\(10, 20, num_layers=2\\)")
})
