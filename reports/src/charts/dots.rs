//! Horizontal dot plots: one row per category (a micro-benchmark workload), a numeric x
//! axis, and for each series at most one dot per row, at its median, with a horizontal
//! min–max whisker. Rows are categories, not a sequence, so nothing joins the dots.
//!
//! Layout: row `i` (counted from the top) is centred on y = `rows - 1 - i`, so the first
//! row is drawn on top. Series `j` of `k` sits [`dot_offsets`]`(k)[j]` rows from that
//! centre, first series highest, so dots of equal value do not hide each other; the chart
//! is as tall as it takes for neighbouring dots to be [`DOT_GAP`] pixels apart (rows of
//! [`MIN_ROW`] to [`MAX_ROW`] pixels; beyond that, very many series may touch). Row labels
//! are drawn in a monospace font in a label area sized from the longest of them, so no
//! label is cut off.

use plotters::prelude::*;

use super::draw::{
    axis_layout, chart_error, draw_legend, shape, tick_label, Glyph, KeyedRange, LEGEND_ROW,
    LEGEND_TOP, LEGEND_WIDTH,
};
use super::{mark_roles, role, Axis, LineStyle, Plot, CHART_SIZE};
use crate::ReportError;

/// A dot plot ready to draw.
///
/// Invariant: every [`Dot::row`] indexes `rows`; dots that do not are not drawn.
#[derive(Clone, Debug)]
pub struct DotPlot {
    /// Title drawn above the plot.
    pub title: String,
    /// The x axis (the values of the dots).
    pub x: Axis,
    /// Row labels, top to bottom.
    pub rows: Vec<String>,
    /// The series, in legend order.
    pub series: Vec<DotSeries>,
}

/// The dots of one series (one runtime).
#[derive(Clone, Debug)]
pub struct DotSeries {
    /// Name shown in the legend.
    pub name: String,
    /// Colour (the line fields style the whiskers and the legend).
    pub style: LineStyle,
    /// At most one dot per row.
    pub dots: Vec<Dot>,
}

/// One dot: a value in a row, with its spread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dot {
    /// Index into [`DotPlot::rows`].
    pub row: usize,
    /// The value (a median).
    pub value: f64,
    /// Whisker (min, max), drawn when max > min.
    pub whisker: Option<(f64, f64)>,
}

impl Plot for DotPlot {
    fn svg(&self) -> Result<String, ReportError> {
        render_dot_plot_svg(self).map(|svg| mark_roles(&svg))
    }
}

/// Share of a row the dots of its series spread over, at most.
const BAND: f64 = 0.8;
/// Distance between the dots of neighbouring series, in rows, at most (so a few series
/// stay close to their row's centre).
const MAX_STEP: f64 = 0.2;
/// Least distance between the centres of neighbouring dots of a row, pixels.
pub const DOT_GAP: u32 = 10;
/// Radius of a dot, pixels (less than half of [`DOT_GAP`]).
const DOT_RADIUS: u32 = 4;
/// Least height of a row, pixels.
pub const MIN_ROW: u32 = 30;
/// Greatest height of a row, pixels.
pub const MAX_ROW: u32 = 96;
/// Height of everything but the rows: margins, title and x axis, pixels.
const FRAME_HEIGHT: u32 = 2 * MARGIN + 36 + X_LABEL_AREA;
/// Margin around the plot, pixels.
const MARGIN: u32 = 12;
/// Height of the x axis' tick labels and title, pixels.
const X_LABEL_AREA: u32 = 52;
/// Size of the row labels' font as given to plotters (which writes 1/1.24 of it into the
/// SVG: 11.3 px).
const LABEL_FONT: u32 = 14;
/// Width of one character of a row label, pixels: 0.6 em of monospace at 11.3 px is 6.8;
/// rounded up for fonts a little wider.
pub const LABEL_CHAR: f64 = 7.2;

/// Vertical offsets, in rows, of the dots of `k` series from their row's centre: evenly
/// spaced, symmetric, first series highest, within ±[`BAND`]/2.
pub fn dot_offsets(k: usize) -> Vec<f64> {
    if k <= 1 {
        return vec![0.0; k];
    }
    let step = (BAND / (k - 1) as f64).min(MAX_STEP);
    let mid = (k - 1) as f64 / 2.0;
    (0..k).map(|j| (mid - j as f64) * step).collect()
}

/// Height of a row holding `k` series, pixels: neighbouring dots [`DOT_GAP`] apart, within
/// [`MIN_ROW`]..=[`MAX_ROW`].
pub fn row_height(k: usize) -> u32 {
    let offsets = dot_offsets(k);
    let step = match offsets.as_slice() {
        [a, b, ..] => a - b,
        _ => return MIN_ROW,
    };
    ((f64::from(DOT_GAP) / step).ceil() as u32).clamp(MIN_ROW, MAX_ROW)
}

/// Title of the y axis, the rows.
const ROWS_TITLE: &str = "workload";

/// Width of the y axis' title (rotated) at the left of the label area, pixels.
const ROWS_TITLE_WIDTH: u32 = 24;

/// Width of the label area left of the plot, pixels: the y axis' title, the longest row
/// label, the tick mark and its gap (9 px), and a few pixels to spare.
pub fn label_area_width(rows: &[String]) -> u32 {
    let chars = rows.iter().map(|r| r.chars().count()).max().unwrap_or(0);
    ((chars as f64 * LABEL_CHAR).ceil() as u32 + 20).max(80) + ROWS_TITLE_WIDTH
}

/// Size of the SVG of a plot of `rows` rows and `k` series, pixels: the width of every
/// chart, and tall enough for the rows and for the legend.
pub fn plot_size(rows: usize, k: usize) -> (u32, u32) {
    let plot = FRAME_HEIGHT + rows as u32 * row_height(k);
    let legend = LEGEND_TOP + LEGEND_ROW * k as u32;
    (CHART_SIZE.0, plot.max(legend).max(240))
}

/// The y coordinate of the centre of row `i` of `n` (the first row on top).
fn row_centre(n: usize, i: usize) -> f64 {
    (n - 1 - i) as f64
}

/// A dot where it is drawn, in chart coordinates (x on the axis' scale, y in rows).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Placed {
    /// The series' style.
    style: LineStyle,
    /// x coordinate of the value.
    x: f64,
    /// y coordinate: the row's centre plus the series' offset.
    y: f64,
    /// x coordinates of the whisker's ends, when it is drawn (max > min).
    whisker: Option<(f64, f64)>,
}

/// Every dot of `plot` that can be drawn (its row exists, its value is on the axis), in
/// series order.
fn place(plot: &DotPlot) -> Vec<Placed> {
    let n = plot.rows.len();
    let offsets = dot_offsets(plot.series.len());
    let x = |v: f64| plot.x.coord(v);
    plot.series
        .iter()
        .zip(offsets)
        .flat_map(|(s, offset)| {
            s.dots.iter().filter_map(move |d| {
                if d.row >= n {
                    return None;
                }
                let whisker = d
                    .whisker
                    .filter(|(lo, hi)| hi > lo)
                    .and_then(|(lo, hi)| Some((x(lo)?, x(hi)?)));
                Some(Placed {
                    style: s.style,
                    x: x(d.value)?,
                    y: row_centre(n, d.row) + offset,
                    whisker,
                })
            })
        })
        .collect()
}

/// Draws `plot` as a standalone SVG document (with `xmlns`).
pub fn render_dot_plot_svg(plot: &DotPlot) -> Result<String, ReportError> {
    let err = chart_error(&plot.title);
    let n = plot.rows.len();
    let dots = || {
        plot.series
            .iter()
            .flat_map(|s| &s.dots)
            .filter(|d| d.row < n)
    };
    let (x_lo, x_hi, x_ticks) = axis_layout(
        &plot.x,
        dots().flat_map(|d| {
            let (lo, hi) = d.whisker.unwrap_or((d.value, d.value));
            [d.value, lo, hi]
        }),
    );
    let y_ticks: Vec<(f64, String)> = plot
        .rows
        .iter()
        .enumerate()
        .map(|(i, label)| (row_centre(n, i), label.clone()))
        .collect();
    let size = plot_size(n, plot.series.len());

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (plot_area, legend_area) = root.split_horizontally(size.0 - LEGEND_WIDTH);
        let x_keys: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
        let y_keys: Vec<f64> = y_ticks.iter().map(|t| t.0).collect();
        let mut ctx = ChartBuilder::on(&plot_area)
            .caption(&plot.title, (role::TITLE, 20))
            .margin(MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(label_area_width(&plot.rows))
            .build_cartesian_2d(
                KeyedRange::new(x_lo, x_hi, x_keys),
                KeyedRange::new(-0.5, n as f64 - 0.5, y_keys),
            )
            .map_err(|e| err(&e))?;
        let x_label = |v: &f64| tick_label(&x_ticks, *v);
        let y_label = |v: &f64| tick_label(&y_ticks, *v);
        ctx.configure_mesh()
            .x_desc(plot.x.title.as_str())
            .y_desc(ROWS_TITLE)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .disable_y_mesh()
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(TRANSPARENT)
            .axis_desc_style((role::AXIS_TITLE, 16))
            .x_label_style((role::TICK_X, 14))
            .y_label_style((role::TICK_Y_MONO, LABEL_FONT))
            .draw()
            .map_err(|e| err(&e))?;

        // Thin separators between rows, instead of grid lines through the dots.
        let separator = RGBColor(235, 235, 235);
        ctx.draw_series((1..n).map(|i| {
            let y = i as f64 - 0.5;
            PathElement::new(vec![(x_lo, y), (x_hi, y)], separator)
        }))
        .map_err(|e| err(&e))?;

        let placed = place(plot);
        // Every whisker first, so none crosses another series' dot.
        ctx.draw_series(placed.iter().filter_map(|p| {
            let (lo, hi) = p.whisker?;
            Some(ErrorBar::new_horizontal(
                p.y,
                lo,
                p.x,
                hi,
                shape(p.style).stroke_width(1),
                6,
            ))
        }))
        .map_err(|e| err(&e))?;
        ctx.draw_series(
            placed
                .iter()
                .map(|p| Circle::new((p.x, p.y), DOT_RADIUS, shape(p.style).color.filled())),
        )
        .map_err(|e| err(&e))?;

        let entries: Vec<(&str, LineStyle)> = plot
            .series
            .iter()
            .map(|s| (s.name.as_str(), s.style))
            .collect();
        draw_legend(&legend_area, &entries, Glyph::Dot).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::{runtime_style, Scale};

    #[test]
    fn offsets_are_symmetric_spaced_and_in_the_row() {
        assert!(dot_offsets(0).is_empty());
        assert_eq!(dot_offsets(1), vec![0.0]);
        for k in 2..=16 {
            let o = dot_offsets(k);
            assert_eq!(o.len(), k);
            assert!(o[0] > 0.0, "first series on top: {o:?}");
            assert!((o[0] + o[k - 1]).abs() < 1e-12, "symmetric: {o:?}");
            assert!(o[0] <= BAND / 2.0 + 1e-12, "inside the row: {o:?}");
            let step = o[0] - o[1];
            assert!(step > 0.0 && step <= MAX_STEP + 1e-12);
            assert!(o.windows(2).all(|w| (w[0] - w[1] - step).abs() < 1e-12));
        }
    }

    #[test]
    fn rows_are_tall_enough_to_keep_dots_apart() {
        assert_eq!(row_height(1), MIN_ROW);
        for k in 2..=8 {
            let o = dot_offsets(k);
            let px = f64::from(row_height(k)) * (o[0] - o[1]);
            assert!(px >= f64::from(DOT_GAP) - 1e-9, "{k} series: {px} px apart");
            assert!(px > f64::from(2 * DOT_RADIUS));
        }
        assert_eq!(row_height(40), MAX_ROW);
        // Ten workloads of six runtimes: every row and the legend fit.
        let (w, h) = plot_size(10, 6);
        assert_eq!(w, CHART_SIZE.0);
        assert!(h >= FRAME_HEIGHT + 10 * row_height(6));
        assert!(plot_size(1, 12).1 >= LEGEND_TOP + 12 * LEGEND_ROW);
    }

    #[test]
    fn label_area_fits_the_longest_label() {
        let rows = ["ping_pong", "cross_thread_wake", "spawn_many_remote"].map(String::from);
        let w = label_area_width(&rows);
        assert!(f64::from(w) >= 17.0 * LABEL_CHAR + 10.0, "{w}");
        assert_eq!(label_area_width(&[]), 80 + ROWS_TITLE_WIDTH);
    }

    #[test]
    fn places_dots_in_their_rows() {
        let dot = |row, value, whisker| Dot {
            row,
            value,
            whisker,
        };
        let plot = DotPlot {
            title: "t".into(),
            x: Axis::new("ns", Scale::Log10),
            rows: vec!["a".into(), "b".into(), "c".into()],
            series: vec![
                DotSeries {
                    name: "one".into(),
                    style: runtime_style(0, false),
                    dots: vec![
                        dot(0, 100.0, Some((50.0, 1000.0))),
                        dot(2, 10.0, Some((10.0, 10.0))),
                        // Not on a log axis, or not a row: dropped.
                        dot(1, 0.0, None),
                        dot(3, 10.0, None),
                    ],
                },
                DotSeries {
                    name: "two".into(),
                    style: runtime_style(1, false),
                    dots: vec![dot(0, 1000.0, None)],
                },
            ],
        };
        let placed = place(&plot);
        let o = dot_offsets(2);
        let at = |p: &Placed| (p.x, p.y, p.whisker);
        assert_eq!(placed.len(), 3);
        // Row "a" is the top one (y = 2), series "one" above series "two".
        assert_eq!(
            at(&placed[0]),
            (2.0, 2.0 + o[0], Some((50f64.log10(), 3.0)))
        );
        assert_eq!(at(&placed[1]), (1.0, o[0], None), "no spread: no whisker");
        assert_eq!(at(&placed[2]), (3.0, 2.0 + o[1], None));
        assert_eq!(placed[2].style, runtime_style(1, false));
    }

    /// Vertical grid lines of the x ticks (the other `<line>`s are whiskers).
    fn x_ticks_in(svg: &str) -> usize {
        svg.lines()
            .filter(|l| l.starts_with("<line") && l.contains("stroke=\"#E1E1E1\""))
            .count()
    }

    #[test]
    fn draws_dots_whiskers_labels_and_legend() {
        let plot = DotPlot {
            title: "t".into(),
            x: Axis::new("ns", Scale::Log10),
            rows: vec!["spawn_many_remote".into(), "yield_many".into()],
            series: (0..3)
                .map(|j| DotSeries {
                    name: format!("rt{j}"),
                    style: runtime_style(j, false),
                    dots: vec![
                        Dot {
                            row: 0,
                            value: 100.0 * (j + 1) as f64,
                            whisker: Some((90.0, 130.0 * (j + 1) as f64)),
                        },
                        Dot {
                            row: 1,
                            value: 25.0,
                            // No spread: no whisker.
                            whisker: Some((25.0, 25.0)),
                        },
                        // Not a row: ignored.
                        Dot {
                            row: 7,
                            value: 1.0,
                            whisker: None,
                        },
                    ],
                })
                .collect(),
        };
        let svg = plot.svg().unwrap();
        for text in ["spawn_many_remote", "yield_many", "rt0", "rt1", "rt2"] {
            assert!(svg.contains(&format!(">\n{text}\n<")), "{text} missing");
        }
        assert!(svg.contains("font-family=\"monospace\""));
        // One filled dot per drawable dot and per legend entry; the row-7 dots are not drawn.
        let dots = svg
            .lines()
            .filter(|l| l.starts_with("<circle") && l.contains("r=\"4\""))
            .count();
        assert_eq!(dots, 2 * 3 + 3);
        // A whisker (two caps and a bar) only where max > min: row 0 of each series.
        let bars = svg.lines().filter(|l| l.starts_with("<line")).count();
        let grid = x_ticks_in(&svg);
        assert_eq!(bars - grid, 3 * 3);
    }
}
