//! Reading the Prometheus text exposition of `/metrics`.

/// The sum of the samples of metric `name` (exactly that name, any labels) whose label text contains
/// `labels` (e.g. `reason="not_json"`; empty for every sample); 0 when there is none.
pub fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b' ' | b'{')))
        .filter(|l| labels.is_empty() || l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::metric;

    const TEXT: &str = "# HELP a_total A.\n# TYPE a_total counter\na_total{reason=\"x\"} 2\na_total{reason=\"y\"} 3\n\
                        a_total_more 7\nb 1.5\n";

    #[test]
    fn sums_the_matching_samples_of_exactly_that_name() {
        assert_eq!(metric(TEXT, "a_total", ""), 5.0);
        assert_eq!(metric(TEXT, "a_total", "reason=\"y\""), 3.0);
        assert_eq!(metric(TEXT, "b", ""), 1.5);
        assert_eq!(metric(TEXT, "a_total_more", ""), 7.0);
        assert_eq!(metric(TEXT, "c", ""), 0.0);
    }
}
