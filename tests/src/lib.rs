//! Integration, CLI and data-driven test suites of modelgate live in `tests/tests/`.
