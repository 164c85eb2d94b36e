//! Inputs that once broke (or could break) a reader, replayed on every test run: the fuzz
//! corpus (`fuzz/corpus/<target>/`) and the crashes fuzzing found (`fuzz/regressions/`),
//! each through the same entry point its fuzz target calls. A panic fails the test and
//! names the input.

mod replay;
