# Shared by the scripts: one release build in one target directory outside the clone, so
# the demo, the tests and the benchmark reuse each other's build and repeated runs on one
# machine are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
export CARGO_TERM_PROGRESS_WHEN=never
SLUICE_BIN="$CARGO_TARGET_DIR/release/sluice"
