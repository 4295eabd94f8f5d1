library(testthat)
library(crnn)

test_check("crnn")
