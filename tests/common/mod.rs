//! Native test support: a deterministic JS-like host (values, KV, vault,
//! clock) that records every host call and can fail any one of them, and a
//! single-threaded executor that interleaves store operations at awaits.
#![allow(dead_code)]

pub mod exec;
pub mod fake;
pub mod lin;
pub mod model;
pub mod rng;
