//! Horizontal bar charts as inline SVG, drawn on the server: no script, no image request, and
//! readable as text (each bar's value is written next to it, and the chart has a title).

use crate::cli::serve::html::esc;

/// The width of the label column, of the bars' area, and of the value after a bar, in pixels.
const LABEL: u32 = 270;
const BARS: u32 = 380;
const VALUE: u32 = 90;
/// The height of one bar, and the gap after each row of bars.
const BAR: u32 = 12;
const GAP: u32 = 10;

/// One row of a chart: its label (untrusted text, escaped here) and a value per series.
pub struct Row {
    pub label: String,
    pub values: Vec<u64>,
}

/// A series: its name and its bars' colour (ours, such as `#3b6fd8`).
pub struct Series {
    pub name: &'static str,
    pub colour: &'static str,
}

/// A bar chart of `rows`, one bar per series in each row, all on one linear scale from zero;
/// `unit` follows each value (such as ` µs`).
pub fn bars(title: &str, rows: &[Row], series: &[Series], unit: &str) -> String {
    let per_row = BAR * series.len() as u32 + GAP;
    let legend = 24;
    let height = legend + per_row * rows.len().max(1) as u32;
    let width = LABEL + BARS + VALUE;
    let max = rows
        .iter()
        .flat_map(|r| r.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"{0}\"><title>{0}</title>\n",
        esc(title)
    );
    let mut x = LABEL;
    for s in series {
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"4\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"13\" font-size=\"12\">{}</text>\n",
            s.colour,
            x + 14,
            esc(s.name)
        ));
        x += 14 + 8 * s.name.len() as u32 + 16;
    }
    if rows.is_empty() {
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"12\">No calls recorded yet.</text>\n",
            legend + 12
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        let top = legend + per_row * i as u32;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>\n",
            top + BAR * series.len() as u32 / 2 + 4,
            esc(&shorten(&row.label, 42))
        ));
        for (j, (value, s)) in row.values.iter().zip(series).enumerate() {
            let y = top + BAR * j as u32;
            // A value above zero gets at least one pixel, so it shows.
            let length = if *value == 0 {
                0
            } else {
                ((*value as f64 / max as f64) * BARS as f64)
                    .round()
                    .max(1.0) as u32
            };
            svg.push_str(&format!(
                "<rect x=\"{LABEL}\" y=\"{y}\" width=\"{length}\" height=\"{}\" fill=\"{}\">\
                 <title>{}: {value}{}</title></rect>\
                 <text x=\"{}\" y=\"{}\" font-size=\"11\">{value}{}</text>\n",
                BAR - 2,
                s.colour,
                esc(s.name),
                esc(unit),
                LABEL + length + 4,
                y + BAR - 3,
                esc(unit)
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

/// At most `max` characters of `text`, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_escapes_its_labels_and_scales_bars_to_the_largest_value() {
        let svg = bars(
            "Calls",
            &[
                Row {
                    label: "<script>x</script>".to_owned(),
                    values: vec![1000, 1],
                },
                Row {
                    label: "b".to_owned(),
                    values: vec![500, 0],
                },
            ],
            &[
                Series {
                    name: "calls",
                    colour: "#3b6fd8",
                },
                Series {
                    name: "failures",
                    colour: "#d83b3b",
                },
            ],
            "",
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(svg.contains(&format!("width=\"{BARS}\" height")));
        assert!(svg.contains(&format!("width=\"{}\" height", BARS / 2)));
        // The smallest non-zero value still shows; zero draws nothing.
        assert!(svg.contains("width=\"1\" height"));
        assert!(svg.contains("width=\"0\" height"));
    }
}
