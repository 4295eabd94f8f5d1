#' Packed batches of sequences of different lengths
#'
#' R torch's `nn_utils_rnn_pack_padded_sequence` and
#' `nn_utils_rnn_pad_packed_sequence`. A layer given a packed batch
#' computes nothing on the padding, returns a packed output, and each
#' sequence's final state is that of its own last step.
#'
#' A packed batch is a list of class `PackedSequence` with R torch's
#' fields: `data` (sum of lengths, features), the rows of step t, one per
#' sequence still running, longest first; `batch_sizes` (integer, one count
#' per step); `sorted_indices` and `unsorted_indices` (one-based, as in R
#' torch; `NULL` when the batch was sorted).
#'
#' @param input A padded batch (seq_len, batch, features), or (batch,
#'   seq_len, features) with `batch_first = TRUE`.
#' @param lengths The length of each sequence (integer or whole numbers).
#' @param batch_first Whether `input` (or the padded result) is batch first.
#' @param enforce_sorted If `TRUE`, `lengths` must be decreasing; if
#'   `FALSE`, any order (the batch is sorted and put back).
#' @param sequence A `PackedSequence`.
#' @param padding_value The value of the padding.
#' @param total_length If not `NULL`, pad to this many steps.
#' @return `nn_utils_rnn_pack_padded_sequence`: a `PackedSequence`.
#'   `nn_utils_rnn_pad_packed_sequence`: `list(padded, lengths)`.
#' @examples
#' if (crnn_is_available()) {
#'   x <- array(rnorm(7 * 3 * 4), c(7, 3, 4))
#'   packed <- nn_utils_rnn_pack_padded_sequence(x, c(4, 7, 2), enforce_sorted = FALSE)
#'   gru <- nn_gru(4, 5)
#'   res <- gru(packed)
#'   padded <- nn_utils_rnn_pad_packed_sequence(res[[1]])
#'   padded[[2]]   # 4 7 2
#' }
#' @name nn_utils_rnn_pack_padded_sequence
#' @export
nn_utils_rnn_pack_padded_sequence <- function(input, lengths, batch_first = FALSE,
                                              enforce_sorted = TRUE) {
  from_py(pycall("pack_padded_sequence", to_py(input, "input"), to_py(lengths, "lengths"),
                 as_flag(batch_first, "batch_first"),
                 as_flag(enforce_sorted, "enforce_sorted")))
}

#' @rdname nn_utils_rnn_pack_padded_sequence
#' @export
nn_utils_rnn_pad_packed_sequence <- function(sequence, batch_first = FALSE,
                                             padding_value = 0, total_length = NULL) {
  if (!inherits(sequence, "PackedSequence")) {
    crnn_abort(sprintf("sequence: expected a PackedSequence, got %s", class(sequence)[1]),
               "crnn_type_error")
  }
  if (!is.numeric(padding_value) || length(padding_value) != 1) {
    crnn_abort("padding_value: expected a number", "crnn_type_error")
  }
  if (!is.null(total_length)) total_length <- as_count(total_length, "total_length")
  res <- from_py(pycall("pad_packed_sequence", to_py(sequence, "sequence"),
                        as_flag(batch_first, "batch_first"), as.double(padding_value),
                        total_length))
  list(res[[1]], as.vector(res[[2]]))
}

new_packed_sequence <- function(data, batch_sizes, sorted_indices = NULL,
                                unsorted_indices = NULL) {
  structure(list(data = data, batch_sizes = as.vector(batch_sizes),
                 sorted_indices = if (!is.null(sorted_indices)) as.vector(sorted_indices),
                 unsorted_indices = if (!is.null(unsorted_indices)) as.vector(unsorted_indices)),
            class = "PackedSequence")
}

#' @export
print.PackedSequence <- function(x, ...) {
  cat(sprintf("PackedSequence: %d sequences, %d steps, data %s\n", x$batch_sizes[1],
              length(x$batch_sizes), fmt_shape(shape_of(x$data))))
  cat("batch_sizes:", x$batch_sizes, "\n")
  if (!is.null(x$sorted_indices)) cat("sorted_indices:", x$sorted_indices, "\n")
  invisible(x)
}
