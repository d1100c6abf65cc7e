//! A compiled CEL expression: for the `cel` interpreter, and for the fast evaluator where
//! it can run it. Evaluated over a [`super::scope::Scope`].

/// A CEL expression compiled for the `cel` interpreter and, when it is within the
/// subset [`super::fast`] covers, for the fast evaluator (`Err` says why not).
pub struct Compiled {
    pub source: String,
    pub program: cel::Program,
    pub fast: Result<super::fast::Program, String>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compiled({:?})", self.source)
    }
}
