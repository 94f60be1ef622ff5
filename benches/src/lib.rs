//! Shared helpers for Tianshu's benchmarks; the benches themselves live in `benches/benches/`.
