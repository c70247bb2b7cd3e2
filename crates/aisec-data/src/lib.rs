//! Bounded loaders for labelled data sets (in progress).
