"""Files: model files and ARPA, read and written safely.

`saved` is what every format loads into (SavedModel and its metadata); `modelfile` writes
and reads bigram's .npz model files on `npzfile` (size checks before reading) and
`checks` (value checks after); `arpa_reader`/`arpa_words`/`arpa_model` read any back-off
ARPA file, `arpa_writer` writes one; `files` writes atomically and refuses outputs that
would destroy a user's file.
"""
