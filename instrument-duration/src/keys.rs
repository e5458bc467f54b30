//! The keys of a budget, declared once for the two places budgets are written.

/// Declares [`BudgetKey`] from one list, so its variants, [`BudgetKey::ALL`] and the names
/// cannot drift apart.
macro_rules! budget_keys {
    ($($(#[doc = $doc:literal])* $key:ident = $name:literal,)+) => {
        /// A key of a budget, spelled the same in `#[budget(p95 = "50ms")]` and in a budgets file
        /// entry (`embedding: { p95: 50ms }`), so a budget moves between the two unchanged.
        ///
        /// The macros accept these as arguments of `#[budget]` and the budgets file as the keys of
        /// an entry; both match on it exhaustively, so a new key does not compile until both
        /// handle it.
        ///
        /// ```
        /// use instrument_duration::BudgetKey;
        ///
        /// assert_eq!(BudgetKey::from_name("p95"), Some(BudgetKey::P95));
        /// assert_eq!(BudgetKey::MinSamples.name(), "min_samples");
        /// assert_eq!(BudgetKey::from_name("p59"), None);
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum BudgetKey {
            $($(#[doc = $doc])* $key,)+
        }

        impl BudgetKey {
            /// Every key, in the order messages list them.
            pub const ALL: &[BudgetKey] = &[$(BudgetKey::$key),+];

            /// The name of every key, in the order of [`BudgetKey::ALL`], for messages that
            /// list them.
            ///
            /// ```
            /// use instrument_duration::BudgetKey;
            ///
            /// assert_eq!(&BudgetKey::NAMES[..3], ["p50", "p90", "p95"]);
            /// ```
            pub const NAMES: &[&str] = &[$($name),+];

            /// The key as written.
            pub const fn name(self) -> &'static str {
                match self {
                    $(BudgetKey::$key => $name,)+
                }
            }
        }
    };
}

budget_keys! {
    /// The most the median may take.
    P50 = "p50",
    /// The most the 90th percentile may take.
    P90 = "p90",
    /// The most the 95th percentile may take.
    P95 = "p95",
    /// The most the 99th percentile may take.
    P99 = "p99",
    /// The most the slowest call may take.
    Max = "max",
    /// How far over budget a statistic may go before it fails.
    Tolerance = "tolerance",
    /// Calls needed before the node is judged.
    MinSamples = "min_samples",
}

impl BudgetKey {
    /// The key spelled exactly `name`, if there is one.
    ///
    /// ```
    /// use instrument_duration::BudgetKey;
    ///
    /// assert_eq!(BudgetKey::from_name("tolerance"), Some(BudgetKey::Tolerance));
    /// assert_eq!(BudgetKey::from_name("P95"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|key| key.name() == name)
    }
}
