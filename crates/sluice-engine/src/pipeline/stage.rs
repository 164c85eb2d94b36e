//! The seam between the gate and the sink: a row stage turns a stream of batches into
//! another (validate, filter, transform, deduplicate), without holding a whole file.

use sluice_core::format::BatchStream;

/// One step on a file's rows.
///
/// # Contract
/// `apply` returns a stream that ends with the input's first error (naming the file and
/// line as the input did), and holds at most a few batches at a time.
pub trait RowStage: Send + Sync {
    /// What the stage is called in logs.
    fn name(&self) -> &'static str;

    /// Whether the stage must see the rows. A stage that needs them rules out push-down
    /// (the destination reading the file itself); one that only watches does not.
    fn needs_rows(&self) -> bool {
        true
    }

    fn apply(&self, batches: BatchStream) -> BatchStream;
}
