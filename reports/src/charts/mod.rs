//! Charts drawn as SVG by `plotters`: line charts with whiskers (the chart model: axes,
//! series, styles), dot plots of categories ([`dots`]), tick placement for linear and log
//! axes, and number formatting.
//!
//! Log axes are drawn in log10 space on a linear coordinate with explicit key points, so
//! ticks fall on meaningful values (the connection counts, 50%/90%/99%...).
//!
//! Invariant: every text of a chart that is its title, an axis title, a tick label or a
//! legend entry carries a class saying so (`chart-title`, `axis-title x|y`, `tick x|y`,
//! `legend-entry`), so a layout checker (`ci/check-layout.sh`) can tell that each chart has
//! them all and that none is cut off or overlaps another. The texts are drawn in a role
//! font family ([`role`]) and [`mark_roles`] turns that into the class.

mod dots;
mod draw;

pub use dots::{Dot, DotPlot, DotSeries};
pub use draw::render_svg;

use crate::ReportError;

/// The role font families: `role::TITLE` draws a chart's title, and so on. Each is a CSS
/// font-family list whose first name is the role, a font no system has; [`mark_roles`]
/// removes it again.
pub(crate) mod role {
    /// The chart's title.
    pub const TITLE: &str = "lb-chart-title,sans-serif";
    /// An axis title (x or y: plotters rotates the y one).
    pub const AXIS_TITLE: &str = "lb-axis-title,sans-serif";
    /// A tick label of the x axis.
    pub const TICK_X: &str = "lb-tick-x,sans-serif";
    /// A tick label of the y axis.
    pub const TICK_Y: &str = "lb-tick-y,sans-serif";
    /// A tick label of a y axis of categories (the dot plots' rows).
    pub const TICK_Y_MONO: &str = "lb-tick-y,monospace";
    /// A legend entry's name.
    pub const LEGEND: &str = "lb-legend-entry,sans-serif";
}

/// `svg` (as plotters wrote it) with each role font family of [`role`] replaced by the
/// class of the role and the real font family: `font-family="lb-tick-x,sans-serif"` becomes
/// `class="tick x" font-family="sans-serif"`. An axis title is `y` when it is rotated.
pub(crate) fn mark_roles(svg: &str) -> String {
    const MARK: &str = "font-family=\"lb-";
    let mut out = String::with_capacity(svg.len() + svg.len() / 20);
    let mut rest = svg;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + MARK.len()..];
        let (Some(comma), Some(end)) = (after.find(','), after.find('"')) else {
            out.push_str(MARK);
            rest = after;
            continue;
        };
        if comma > end {
            out.push_str(MARK);
            rest = after;
            continue;
        }
        let family = &after[comma + 1..end];
        let tag_end = after.find('>').unwrap_or(after.len());
        let class = match &after[..comma] {
            "axis-title" if after[..tag_end].contains("transform=\"rotate(") => "axis-title y",
            "axis-title" => "axis-title x",
            "tick-x" => "tick x",
            "tick-y" => "tick y",
            other => other,
        };
        out.push_str(&format!("class=\"{class}\" font-family=\"{family}\""));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Anything that draws itself as a standalone SVG document (with `xmlns`).
pub trait Plot {
    /// The SVG document.
    fn svg(&self) -> Result<String, ReportError>;
}

impl Plot for Chart {
    fn svg(&self) -> Result<String, ReportError> {
        render_svg(self).map(|svg| mark_roles(&svg))
    }
}

/// How values map to an axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Values as they are; the axis starts at zero.
    Linear,
    /// log10 of the values (which must be positive).
    Log10,
}

/// One axis: title (with unit), scale and, optionally, fixed ticks.
#[derive(Clone, Debug)]
pub struct Axis {
    /// Title with unit, e.g. `connections (log scale)`.
    pub title: String,
    /// Scale.
    pub scale: Scale,
    /// Ticks as (value, label); computed from the data when `None`.
    pub ticks: Option<Vec<(f64, String)>>,
    /// Label of a computed tick ([`si`] unless set with [`Axis::labelled`]).
    pub label: fn(f64) -> String,
}

impl Axis {
    /// An axis with computed ticks.
    pub fn new(title: impl Into<String>, scale: Scale) -> Self {
        Self {
            title: title.into(),
            scale,
            ticks: None,
            label: si,
        }
    }

    /// An axis with fixed ticks.
    pub fn with_ticks(title: impl Into<String>, scale: Scale, ticks: Vec<(f64, String)>) -> Self {
        Self {
            title: title.into(),
            scale,
            ticks: Some(ticks),
            label: si,
        }
    }

    /// The axis with computed ticks labelled by `label` (e.g. with a unit: `1 µs`).
    pub fn labelled(self, label: fn(f64) -> String) -> Self {
        Self { label, ..self }
    }

    /// The coordinate of `value` on this axis (`None` for non-positive values on a log axis).
    pub fn coord(&self, value: f64) -> Option<f64> {
        match self.scale {
            Scale::Linear => value.is_finite().then_some(value),
            Scale::Log10 => (value > 0.0 && value.is_finite()).then(|| value.log10()),
        }
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineStyle {
    /// RGB colour.
    pub color: (u8, u8, u8),
    /// Dashed line.
    pub dashed: bool,
    /// Stroke width in pixels.
    pub width: u32,
}

/// One point: the median and, when there were several repeats, their min and max.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// x value.
    pub x: f64,
    /// y value (median).
    pub y: f64,
    /// Whisker (min, max), drawn when it differs from the point.
    pub whisker: Option<(f64, f64)>,
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Name shown in the legend.
    pub name: String,
    /// Style.
    pub style: LineStyle,
    /// Points in x order.
    pub points: Vec<Point>,
    /// Whether each point gets a dot (off for dense lines such as spectra).
    pub markers: bool,
}

/// A chart ready to draw.
#[derive(Clone, Debug)]
pub struct Chart {
    /// Title drawn above the plot.
    pub title: String,
    /// x axis.
    pub x: Axis,
    /// y axis.
    pub y: Axis,
    /// The lines.
    pub series: Vec<Series>,
}

/// Width and height of every chart, pixels.
pub const CHART_SIZE: (u32, u32) = (1000, 480);

/// Colours of runtimes, in order of appearance.
const RUNTIME_COLORS: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (148, 103, 189),
    (255, 127, 14),
    (23, 190, 207),
    (227, 119, 194),
    (188, 189, 34),
];

/// Colours of the baselines.
const BASELINE_COLORS: [(u8, u8, u8); 3] = [(140, 86, 75), (127, 127, 127), (90, 90, 160)];

/// The style of the `index`-th runtime; `faded` for an older input of an overlay.
pub fn runtime_style(index: usize, faded: bool) -> LineStyle {
    let c = RUNTIME_COLORS[index % RUNTIME_COLORS.len()];
    LineStyle {
        color: if faded { fade(c) } else { c },
        dashed: false,
        width: 2,
    }
}

/// The style of the `index`-th baseline: dashed.
pub fn baseline_style(index: usize, faded: bool) -> LineStyle {
    let c = BASELINE_COLORS[index % BASELINE_COLORS.len()];
    LineStyle {
        color: if faded { fade(c) } else { c },
        dashed: true,
        width: 2,
    }
}

/// The style of the epoll floor: black and thick.
pub fn floor_style(faded: bool) -> LineStyle {
    LineStyle {
        color: if faded { (110, 110, 110) } else { (0, 0, 0) },
        dashed: false,
        width: 4,
    }
}

fn fade((r, g, b): (u8, u8, u8)) -> (u8, u8, u8) {
    let f = |c: u8| ((u16::from(c) + 2 * 255) / 3) as u8;
    (f(r), f(g), f(b))
}

/// Ticks for `lo..hi` (in value space) on `scale`: decades (with 2 and 5 when the range is
/// short) on a log axis, round steps on a linear one.
pub fn auto_ticks(scale: Scale, lo: f64, hi: f64) -> Vec<(f64, String)> {
    match scale {
        Scale::Log10 => {
            let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
            let mults: &[f64] = if b - a <= 2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
            (a..=b)
                .flat_map(|e| mults.iter().map(move |m| m * 10f64.powi(e)))
                .filter(|v| *v >= lo * 0.999 && *v <= hi * 1.001)
                .map(|v| (v, si(v)))
                .collect()
        }
        Scale::Linear => {
            let step = nice_step((hi - lo) / 6.0);
            let mut ticks = Vec::new();
            let mut v = (lo / step).ceil() * step;
            while v <= hi + step * 1e-9 {
                ticks.push((v, si(v)));
                v += step;
            }
            ticks
        }
    }
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A number with an SI suffix and at most three significant digits: `950`, `12.5k`, `1.2M`.
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if scaled.abs() >= 100.0 || scaled == scaled.trunc() {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{scaled:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{suffix}")
}

/// Ticks of a percentile axis whose values are 1/(1-p): 50%, 90%, 99% ... up to `max_x`.
pub fn percentile_ticks(max_x: f64) -> Vec<(f64, String)> {
    [
        (1.0, "0%"),
        (2.0, "50%"),
        (10.0, "90%"),
        (100.0, "99%"),
        (1e3, "99.9%"),
        (1e4, "99.99%"),
        (1e5, "99.999%"),
    ]
    .into_iter()
    .filter(|(x, _)| *x <= max_x * 1.001)
    .map(|(x, l)| (x, l.to_string()))
    .collect()
}

/// The SVG with its `xmlns` attribute removed, for inline use in HTML5 (the attribute
/// holds a URL, and the page must contain none); any other `://` is written as a character
/// reference, which reads the same.
pub fn inline_svg(svg: &str) -> String {
    svg.replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
        .replace("://", ":&#47;&#47;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_format() {
        assert_eq!(si(950.0), "950");
        assert_eq!(si(12_500.0), "12.5k");
        assert_eq!(si(1_200_000.0), "1.2M");
        assert_eq!(si(0.25), "0.25");
        assert_eq!(si(0.0), "0");
    }

    #[test]
    fn roles_become_classes() {
        let svg = "<text x=\"1\" font-family=\"lb-chart-title,sans-serif\">t</text>\n\
                   <text font-family=\"lb-axis-title,sans-serif\" transform=\"rotate(270, 1, 2)\">y</text>\n\
                   <text font-family=\"lb-axis-title,sans-serif\">x</text>\n\
                   <text font-family=\"lb-tick-y,monospace\">row</text>\n\
                   <text font-family=\"sans-serif\">plain</text>";
        assert_eq!(
            mark_roles(svg),
            "<text x=\"1\" class=\"chart-title\" font-family=\"sans-serif\">t</text>\n\
             <text class=\"axis-title y\" font-family=\"sans-serif\" transform=\"rotate(270, 1, 2)\">y</text>\n\
             <text class=\"axis-title x\" font-family=\"sans-serif\">x</text>\n\
             <text class=\"tick y\" font-family=\"monospace\">row</text>\n\
             <text font-family=\"sans-serif\">plain</text>"
        );
    }

    #[test]
    fn ticks() {
        let t = auto_ticks(Scale::Linear, 0.0, 95.0);
        assert_eq!(t.first().unwrap().0, 0.0);
        assert!(t.len() >= 4 && t.len() <= 11, "{t:?}");
        let t = auto_ticks(Scale::Log10, 3.0, 20_000.0);
        let v: Vec<f64> = t.iter().map(|t| t.0).collect();
        assert_eq!(v, vec![10.0, 100.0, 1000.0, 10_000.0]);
        assert_eq!(percentile_ticks(1e4).len(), 6);
    }
}
