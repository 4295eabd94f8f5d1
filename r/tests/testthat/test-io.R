# crnn_save / crnn_load and Python's crnn.save / crnn.load read each other's files.

test_that("saved in R, loaded in Python (torch's names inside), and back", {
  set.seed(7)
  lstm <- nn_lstm(5, 6, num_layers = 2, bidirectional = TRUE, proj_size = 3)
  lstm$eval()
  sd <- randomize(lstm)
  dir <- tempfile("crnn-io-")
  dir.create(dir)
  crnn_save(lstm, file.path(dir, "r.npz"))
  x <- rand(4, 2, 5)
  kwargs <- list(input_size = 5, hidden_size = 6, num_layers = 2, bidirectional = TRUE,
                 proj_size = 3)
  ref <- run_reference("LSTM", kwargs, arrays = list(x = x),
                       spec = list(load = "r.npz", save = "py.npz"), dir = dir)
  # Python read the file R wrote: its parameters under torch's names, the same values
  for (n in names(sd)) {
    expect_true(bits(ref[[paste0("loaded.", torch_name(n))]], lstm$state_dict()[[n]]), label = n)
  }
  expect_false("loaded.weight_ih_l2" %in% names(ref))   # layers from 0 in the file
  expect_true(bits(lstm(x)[[1]], ref$output))
  # R reads the file Python wrote (the state dict doubled): R torch's names
  back <- crnn_load(file.path(dir, "py.npz"))
  expect_identical(names(back), names(lstm$state_dict()))
  for (n in names(back)) expect_true(bits(back[[n]], 2 * lstm$state_dict()[[n]]), label = n)
  other <- nn_lstm(5, 6, num_layers = 2, bidirectional = TRUE, proj_size = 3)
  other$load_state_dict(back)
  expect_true(bits(other$weight_hr_l2_reverse, 2 * lstm$weight_hr_l2_reverse))
})

test_that("a state dict and a nested checkpoint save and load in R", {
  gru <- nn_gru(3, 4)
  path <- tempfile(fileext = ".npz")
  expect_identical(crnn_save(gru$state_dict(), path), path)
  expect_identical(crnn_load(path), gru$state_dict())
  crnn_save(list(model = gru, epoch = 3L), path)
  got <- crnn_load(path)
  expect_identical(got$model, gru$state_dict())
  expect_equal(as.vector(got$epoch), 3)
})

test_that("quantized: the same outputs as Python's quantize, and its file loads in Python", {
  set.seed(8)
  gru <- nn_gru(5, 7)
  gru$eval()
  sd <- randomize(gru)
  q <- crnn_quantize(gru, "int8")
  x <- rand(6, 2, 5)
  kwargs <- list(input_size = 5, hidden_size = 7)
  ref <- run_reference("GRU", kwargs, sd, list(x = x), list(quantize = "int8"))
  expect_true(bits(q(x)[[1]], ref$output))
  dir <- tempfile("crnn-q-")
  dir.create(dir)
  crnn_save(q, file.path(dir, "q.npz"))
  ref <- run_reference("GRU", kwargs, arrays = list(x = x),
                       spec = list(quantize = "int8", load = "q.npz"), dir = dir)
  expect_true(bits(q(x)[[1]], ref$output))
  expect_true(bits(ref$loaded.weight_hh_l0, q$state_dict()$weight_hh_l1 + 0))
})
