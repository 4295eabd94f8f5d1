#' crnn: fast recurrent layers on the CPU with R torch's interface
#'
#' R torch's recurrent layers — [nn_rnn()], [nn_lstm()], [nn_gru()] and the
#' cells [nn_rnn_cell()], [nn_lstm_cell()], [nn_gru_cell()] — on base R
#' arrays, computed by the Python package crnn through reticulate. The
#' Python used is reticulate's: set `RETICULATE_PYTHON` or call
#' `reticulate::use_virtualenv()` before the first call to choose it.
#'
#' @keywords internal
"_PACKAGE"
