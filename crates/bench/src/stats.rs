//! Percentiles of timings, the printed table and its goals.

use std::time::Duration;

/// Nearest-rank percentile `p` (0–100) of `samples`; zero when there are none.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

/// One printed row: a figure, and the goal it is held against if any.
pub struct Row {
    pub name: String,
    pub value: String,
    pub goal: Option<(String, bool)>,
}

impl Row {
    pub fn figure(name: &str, value: String) -> Self {
        Self {
            name: name.to_owned(),
            value,
            goal: None,
        }
    }

    pub fn goal(name: &str, value: String, goal: &str, met: bool) -> Self {
        Self {
            name: name.to_owned(),
            value,
            goal: Some((goal.to_owned(), met)),
        }
    }
}

pub fn print_table(title: &str, rows: &[Row]) {
    println!("\n{title}");
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let value_width = rows.iter().map(|r| r.value.len()).max().unwrap_or(0);
    for row in rows {
        let goal = match &row.goal {
            Some((goal, met)) => format!("  goal {goal}: {}", if *met { "met" } else { "missed" }),
            None => String::new(),
        };
        println!("  {:<width$}  {:>value_width$}{goal}", row.name, row.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=20).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(10));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(20));
        assert_eq!(percentile(&samples, 100.0), Duration::from_millis(20));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
