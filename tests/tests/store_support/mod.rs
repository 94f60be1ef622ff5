//! The store tests' fixtures, from the shared test kit: scratch stores on both backends and the track
//! point.
#![allow(dead_code)]

pub use tianshu_testkit::{Scratch, T0_SECS, point};
