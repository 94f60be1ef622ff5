//! Helpers shared by the end-to-end tests in `tests/tests/`: locating the built binary, free ports,
//! scratch databases.
