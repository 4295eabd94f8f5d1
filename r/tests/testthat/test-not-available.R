# Without an importable crnn, the first call says so and how to install it.
# crnn refuses to import under an unknown CRNN_ISA: a Python without crnn,
# for a fresh R process.

test_that("crnn not importable: a crnn_not_available error saying how to install it", {
  code <- paste(
    "library(crnn)",
    "stopifnot(!crnn_is_available())",
    "e <- tryCatch(nn_rnn(10, 20), error = function(e) e)",
    "cat(class(e)[1:2], '\\n')",
    "cat(conditionMessage(e), '\\n')", sep = "; ")
  out <- system2(file.path(R.home("bin"), "Rscript"), c("-e", shQuote(code)), stdout = TRUE,
                 stderr = TRUE, env = c(
                   paste0("R_LIBS=", shQuote(paste(.libPaths(), collapse = .Platform$path.sep))),
                   paste0("RETICULATE_PYTHON=", shQuote(python_exe())), "CRNN_ISA=no-such-isa"))
  expect_null(attr(out, "status"))
  out <- paste(out, collapse = "\n")
  expect_match(out, "crnn_not_available crnn_error")
  expect_match(out, "the Python package crnn is not importable", fixed = TRUE)
  expect_match(out, "`pip install .` in crnn's source checkout", fixed = TRUE)
  expect_match(out, "RETICULATE_PYTHON", fixed = TRUE)
  expect_match(out, "use_virtualenv", fixed = TRUE)
})
